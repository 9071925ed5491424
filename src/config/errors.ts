/**
 * Configuration errors (SPEC §3). Every problem is one line in the fixed format
 * `CLEF_AGENT_<NAME>: <what is wrong with the value>; expected <what is accepted>`, and start-up
 * reports all of them at once, one per line, so an operator fixes a deployment in one round trip.
 */

/** One invalid setting. `message` is a complete line, safe to print (never a secret value). */
export interface ConfigIssue {
  readonly variable: string;
  readonly message: string;
}

/**
 * Thrown by `loadConfig`. `message` is every issue's line joined with `\n`; `variable` is the
 * first issue's variable (handy when there is only one). The main thread prints `message` and
 * exits 2 before anything listens.
 */
export class ConfigError extends Error {
  readonly variable: string;
  readonly issues: readonly ConfigIssue[];

  constructor(variable: string, message: string);
  constructor(issues: readonly ConfigIssue[]);
  constructor(variableOrIssues: string | readonly ConfigIssue[], message?: string) {
    const issues = typeof variableOrIssues === 'string' ? [{ variable: variableOrIssues, message: message ?? '' }] : [...variableOrIssues];
    super(issues.map((i) => i.message).join('\n'));
    this.name = 'ConfigError';
    this.variable = issues[0]?.variable ?? '';
    this.issues = issues;
  }
}

/** The one place the line format is spelled out. */
export function formatIssue(variable: string, problem: string, expected: string): string {
  return `${variable}: ${problem}; expected ${expected}`;
}

/** Throws a single-issue ConfigError in the standard format. */
export function refuse(variable: string, problem: string, expected: string): never {
  throw new ConfigError(variable, formatIssue(variable, problem, expected));
}

/**
 * Collects issues across the whole configuration. `run` turns a helper's thrown ConfigError into
 * collected issues, so each helper can simply throw and validation still continues.
 */
export class Issues {
  private readonly list: ConfigIssue[] = [];

  add(variable: string, problem: string, expected: string): void {
    this.list.push({ variable, message: formatIssue(variable, problem, expected) });
  }

  /** For a line that does not fit `variable: problem; expected` (the VCS group's one line naming every missing variable). */
  addLine(variable: string, message: string): void {
    this.list.push({ variable, message });
  }

  run<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.list.push(...err.issues);
      return undefined;
    }
  }

  get count(): number {
    return this.list.length;
  }

  throwIfAny(): void {
    if (this.list.length > 0) throw new ConfigError(this.list);
  }
}
