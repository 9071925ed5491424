/**
 * `clef-agent exec` flags (node:util parseArgs). Everything after `--` is the command, passed to
 * it untouched; the flags before it are exec's own. Messages name a flag and what it accepts,
 * never a value (a value could be a secret pasted in the wrong place).
 */
import { constants } from 'node:os';
import { parseArgs } from 'node:util';

export type OnChange =
  { readonly kind: 'none' } | { readonly kind: 'restart'; readonly signal: NodeJS.Signals } | { readonly kind: 'signal'; readonly signal: NodeJS.Signals };

export interface ExecOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly envPrefix: string;
  /** Selected namespaces; empty: all of them. */
  readonly namespaces: readonly string[];
  readonly qualify: boolean;
  readonly override: boolean;
  readonly onChange: OnChange;
  /** Seconds between the stop signal and SIGKILL when stopping the child. */
  readonly graceSeconds: number;
  readonly restartOnExit: boolean;
  readonly keepOnRevoke: boolean;
  readonly serve: boolean;
}

export type ParsedExec =
  { readonly kind: 'help' } | { readonly kind: 'run'; readonly options: ExecOptions } | { readonly kind: 'error'; readonly message: string };

/** Default grace between the stop signal and SIGKILL (Kubernetes' default terminationGracePeriodSeconds is 30; the child gets most of it). */
export const DEFAULT_GRACE_SECONDS = 10;
const MAX_GRACE_SECONDS = 3600;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  'env-prefix': { type: 'string' },
  namespace: { type: 'string', multiple: true },
  'no-qualify': { type: 'boolean' },
  override: { type: 'boolean' },
  'restart-on-change': { type: 'boolean' },
  'restart-signal': { type: 'string' },
  grace: { type: 'string' },
  'restart-on-exit': { type: 'boolean' },
  'signal-on-change': { type: 'string' },
  'keep-on-revoke': { type: 'boolean' },
  serve: { type: 'boolean' },
} as const;

/** Signals the child may be sent on a change or asked to stop with: the catchable ones a process uses for "reload" or "stop". */
export const CHANGE_SIGNALS: readonly NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

const COMMAND_AFTER_DASHES = 'the command goes after "--": clef-agent exec [options] -- <command> [args...]';

export function parseExecArgs(argv: readonly string[]): ParsedExec {
  const dashes = argv.indexOf('--');
  const own = dashes === -1 ? argv : argv.slice(0, dashes);
  const command = dashes === -1 ? [] : argv.slice(dashes + 1);
  let values;
  try {
    ({ values } = parseArgs({ args: [...own], options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    return { kind: 'error', message: describeParseError(err, own, dashes !== -1) };
  }
  if (values.help === true) return { kind: 'help' };
  const [cmd, ...args] = command;
  if (cmd === undefined || cmd.length === 0)
    return {
      kind: 'error',
      message: dashes === -1 ? 'the command goes after "--": clef-agent exec [options] -- <command> [args...]' : 'no command after "--"',
    };

  const prefix = values['env-prefix'] ?? '';
  if (values['env-prefix'] !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(prefix))
    return { kind: 'error', message: '--env-prefix: expected letters, digits and "_", not starting with a digit (e.g. APP_)' };
  const namespaces = values.namespace ?? [];
  if (namespaces.some((n) => n.length === 0)) return { kind: 'error', message: '--namespace: expected a namespace name, not an empty string' };

  if (values['restart-on-change'] === true && values['signal-on-change'] !== undefined)
    return { kind: 'error', message: '--restart-on-change and --signal-on-change are exclusive: choose one' };
  if (values['restart-signal'] !== undefined && values['restart-on-change'] !== true)
    return { kind: 'error', message: '--restart-signal needs --restart-on-change' };
  const restartSignal = signalFlag('--restart-signal', values['restart-signal'] ?? 'SIGTERM');
  if (!isSignal(restartSignal)) return restartSignal;
  let onChange: OnChange = { kind: 'none' };
  if (values['restart-on-change'] === true) onChange = { kind: 'restart', signal: restartSignal };
  if (values['signal-on-change'] !== undefined) {
    const s = signalFlag('--signal-on-change', values['signal-on-change']);
    if (!isSignal(s)) return s;
    onChange = { kind: 'signal', signal: s };
  }

  let graceSeconds = DEFAULT_GRACE_SECONDS;
  if (values.grace !== undefined) {
    if (!/^\d{1,7}$/.test(values.grace) || Number(values.grace) > MAX_GRACE_SECONDS)
      return { kind: 'error', message: `--grace: expected whole seconds, 0-${MAX_GRACE_SECONDS}` };
    graceSeconds = Number(values.grace);
  }

  return {
    kind: 'run',
    options: {
      command: cmd,
      args,
      envPrefix: prefix,
      namespaces,
      qualify: values['no-qualify'] !== true,
      override: values.override === true,
      onChange,
      graceSeconds,
      restartOnExit: values['restart-on-exit'] === true,
      keepOnRevoke: values['keep-on-revoke'] === true,
      serve: values.serve === true,
    },
  };
}

function isSignal(s: NodeJS.Signals | ParsedExec): s is NodeJS.Signals {
  return typeof s === 'string';
}

/** `TERM`, `SIGTERM` or `sigterm` → `SIGTERM`, when it is one of CHANGE_SIGNALS. */
function signalFlag(flag: string, raw: string): NodeJS.Signals | ParsedExec {
  const upper = raw.toUpperCase();
  const name = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as NodeJS.Signals;
  if (CHANGE_SIGNALS.includes(name) && name in constants.signals) return name;
  return { kind: 'error', message: `${flag}: expected one of ${CHANGE_SIGNALS.join(', ')} (the SIG prefix is optional)` };
}

/** parseArgs' own messages quote the offending argument; name only the flag. */
function describeParseError(err: unknown, own: readonly string[], hasDashes: boolean): string {
  const code = (err as { code?: string }).code;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const unknown = own.find((a) => a.startsWith('-') && !known(a));
    return `unknown flag ${JSON.stringify(unknown?.split('=')[0]?.slice(0, 40) ?? '')}`;
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL')
    return hasDashes ? 'unexpected argument before "--" (the command goes after "--")' : COMMAND_AFTER_DASHES;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const flag = own.find((a) => a.startsWith('-') && known(a) && OPTIONS[flagName(a) as keyof typeof OPTIONS].type === 'string');
    return `${flag?.split('=')[0] ?? 'a flag'}: expected a value`;
  }
  return 'invalid arguments';
}

function flagName(a: string): string {
  if (a === '-h') return 'help';
  return (a.replace(/^--?/, '').split('=')[0] ?? '').trim();
}

function known(a: string): boolean {
  return a === '-h' || (a.startsWith('--') && Object.hasOwn(OPTIONS, flagName(a)));
}
