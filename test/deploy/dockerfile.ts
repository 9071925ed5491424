/**
 * A small Dockerfile parser for the instructions the project's Dockerfile uses (FROM, WORKDIR, COPY,
 * RUN, USER, ENV, LABEL, ENTRYPOINT, CMD, HEALTHCHECK), following the Dockerfile reference:
 * `#` comment lines (also inside a continued instruction), `\` line continuations, `--flag=value`
 * options, exec form (a JSON array) versus shell form, and `key=value` pairs with double quotes.
 * Anything else (ARG, ADD, heredocs, a parser directive that changes the escape character) is
 * refused, so the test fails loudly instead of checking a Dockerfile it did not understand.
 */

export interface Instruction {
  /** Upper-case keyword. */
  readonly keyword: string;
  /** `--name=value` options before the arguments (COPY --from, HEALTHCHECK --interval, …). */
  readonly flags: Readonly<Record<string, string>>;
  /** Everything after the keyword and its flags, continuations joined with a space. */
  readonly args: string;
  /** 1-based line where the instruction starts. */
  readonly line: number;
}

export interface Stage {
  readonly image: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

const KNOWN = new Set(['FROM', 'WORKDIR', 'COPY', 'RUN', 'USER', 'ENV', 'LABEL', 'ENTRYPOINT', 'CMD', 'HEALTHCHECK']);

/** The instructions in order; throws on an instruction this parser does not know. */
export function parseInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length) {
    const first = lines[i]!;
    const start = i + 1;
    i++;
    if (first.trim() === '' || first.trimStart().startsWith('#')) continue;
    let joined = first;
    while (joined.trimEnd().endsWith('\\') && i < lines.length) {
      joined = joined.trimEnd().slice(0, -1);
      const next = lines[i++]!;
      if (next.trimStart().startsWith('#')) {
        joined += '\\'; // a comment line inside a continuation is dropped; the continuation goes on
        continue;
      }
      joined += ' ' + next.trim();
    }
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(joined);
    if (!m) throw new Error(`line ${start}: not an instruction: ${first}`);
    const keyword = m[1]!.toUpperCase();
    if (!KNOWN.has(keyword)) throw new Error(`line ${start}: ${keyword} is not supported by this parser`);
    let rest = m[2]!.trim();
    const flags: Record<string, string> = {};
    for (let f = /^--([a-z-]+)=(\S+)\s+/.exec(rest); f; f = /^--([a-z-]+)=(\S+)\s+/.exec(rest)) {
      flags[f[1]!] = f[2]!;
      rest = rest.slice(f[0].length);
    }
    if (rest.startsWith('<<')) throw new Error(`line ${start}: heredocs are not supported by this parser`);
    out.push({ keyword, flags, args: rest, line: start });
  }
  return out;
}

/** Instructions grouped by FROM. */
export function parseStages(text: string): Stage[] {
  const stages: { image: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const ins of parseInstructions(text)) {
    if (ins.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`line ${ins.line}: FROM ${ins.args}`);
      stages.push({ image: m[1]!, name: m[2], instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`line ${ins.line}: ${ins.keyword} before FROM`);
      stage.instructions.push(ins);
    }
  }
  return stages;
}

/** An exec-form argument list (`["a", "b"]`); null for shell form. */
export function execForm(args: string): string[] | null {
  if (!args.startsWith('[')) return null;
  const v: unknown = JSON.parse(args);
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new Error(`not an exec-form array: ${args}`);
  return v;
}

/** `key=value` pairs (ENV, LABEL); values may be double-quoted with `\"` inside. */
export function keyValues(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([^\s=]+)=(?:"((?:[^"\\]|\\.)*)"|(\S*))/y;
  let pos = 0;
  while (pos < args.length) {
    re.lastIndex = pos;
    const m = re.exec(args);
    if (!m) {
      if (args.slice(pos).trim() === '') break;
      throw new Error(`cannot read key=value pairs at: ${args.slice(pos)}`);
    }
    out[m[1]!] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
    pos = re.lastIndex;
  }
  return out;
}

/** HEALTHCHECK [options] CMD <command>: the command as an exec-form list. */
export function healthcheckCommand(ins: Instruction): string[] {
  const m = /^CMD\s+([\s\S]+)$/.exec(ins.args);
  if (!m) throw new Error(`line ${ins.line}: HEALTHCHECK without CMD`);
  const cmd = execForm(m[1]!);
  if (!cmd) throw new Error(`line ${ins.line}: HEALTHCHECK CMD is not in exec form`);
  return cmd;
}

/** Every instruction with this keyword in the stage. */
export function all(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((i) => i.keyword === keyword);
}

/** The last instruction with this keyword in the stage (the one Docker uses for USER, CMD, …). */
export function last(stage: Stage, keyword: string): Instruction | undefined {
  return all(stage, keyword).at(-1);
}
