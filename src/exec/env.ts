/**
 * Exec mode's environment mapping: the decrypted payload → environment variables for the child.
 * Pure functions of the payload, the flags and the inherited environment, so every naming rule is
 * tested without a process. Errors name keys and variables (names are not secret), never a value.
 */
import { checkPayload, type Payload } from '../../common/payload.js';
import { readPayloadValue } from '../../common/payload-value.js';

export type ExecEnvCode = 'unknown_namespace' | 'namespace_on_flat' | 'ambiguous_key' | 'name_collision' | 'variable_exists' | 'invalid_name' | 'invalid_value';

/** The payload cannot become the child's environment with these flags. */
export class ExecEnvError extends Error {
  readonly code: ExecEnvCode;
  constructor(code: ExecEnvCode, message: string) {
    super(message);
    this.name = 'ExecEnvError';
    this.code = code;
  }
}

export interface EnvNaming {
  /** Put before every name (already checked to be `[A-Za-z_][A-Za-z0-9_]*`, or empty). */
  readonly prefix: string;
  /** Only these namespaces; empty: all. */
  readonly namespaces: readonly string[];
  /** `ns__KEY` (true) or the bare `KEY` where only one selected namespace has it (false). */
  readonly qualify: boolean;
  /** Replace an inherited variable of the same name instead of refusing. */
  readonly override: boolean;
}

/** The agent's own variables are never passed on: key, tokens and settings are the agent's business. */
const AGENT_VARIABLE = /^CLEF_AGENT_/;

/** The inherited environment minus every `CLEF_AGENT_*` variable (and unset entries). */
export function inheritedEnvironment(env: NodeJS.ProcessEnv): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) if (value !== undefined && !AGENT_VARIABLE.test(name)) out.set(name, value);
  return out;
}

/**
 * The child's environment: `inherited` plus one variable per selected secret. The payload is the
 * JSON bytes of `GET /v1/secrets` (flat or nested, already checked by a worker; checked again here so
 * this function stands alone). Throws an ExecEnvError.
 */
export function childEnvironment(payloadJson: Uint8Array, naming: EnvNaming, inherited: ReadonlyMap<string, string>): Record<string, string> {
  const secrets = secretVariables(parsePayload(payloadJson), naming);
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of inherited) env[name] = value;
  for (const [name, v] of secrets) {
    if (inherited.has(name) && !naming.override)
      throw new ExecEnvError('variable_exists', `${name} (from ${v.from}) is already set in the environment; pass --override to replace it`);
    env[name] = v.value;
  }
  return env;
}

/**
 * Read as the workers read payloads (common/payload-value.ts), not with JSON.parse: V8's
 * escaped-key defect (SECURITY.md) could otherwise hand the child a variable under another name.
 */
function parsePayload(json: Uint8Array): Payload {
  const read = readPayloadValue(json);
  if (read === null) throw new ExecEnvError('invalid_name', 'the payload is not UTF-8 JSON');
  const p = checkPayload(read.value);
  if ('problem' in p) throw new ExecEnvError('invalid_name', p.problem);
  return p;
}

interface Entry {
  readonly namespace: string | null;
  readonly key: string;
  readonly value: string;
}

/** Variable name → the secret it comes from (`ns/KEY` or `KEY`) and its value. */
export function secretVariables(payload: Payload, naming: EnvNaming): Map<string, { readonly from: string; readonly value: string }> {
  const entries = select(payload, naming.namespaces);
  if (!naming.qualify) refuseAmbiguous(entries);
  const out = new Map<string, { from: string; value: string }>();
  for (const e of entries) {
    const from = e.namespace === null ? e.key : `${e.namespace}/${e.key}`;
    const raw = naming.qualify && e.namespace !== null ? `${e.namespace}__${e.key}` : e.key;
    const name = naming.prefix + raw.replace(/[^A-Za-z0-9_]/g, '_');
    if (name.length === 0)
      throw new ExecEnvError('invalid_name', `${JSON.stringify(from)} has an empty name and cannot be an environment variable; use --env-prefix`);
    // A NUL would end the value early in the C environment block (Node refuses it outright).
    if (e.value.includes('\0'))
      throw new ExecEnvError('invalid_value', `the value of ${from} contains a NUL character, which an environment variable cannot hold`);
    const seen = out.get(name);
    if (seen !== undefined)
      throw new ExecEnvError('name_collision', `${seen.from} and ${from} both map to the variable ${name}; rename one of them or select namespaces`);
    out.set(name, { from, value: e.value });
  }
  return out;
}

function select(payload: Payload, namespaces: readonly string[]): Entry[] {
  if (payload.kind === 'flat') {
    if (namespaces.length > 0) throw new ExecEnvError('namespace_on_flat', '--namespace: this artifact has no namespaces (a flat payload); drop --namespace');
    return [...payload.keys].map(([key, value]) => ({ namespace: null, key, value }));
  }
  const chosen = namespaces.length === 0 ? [...payload.namespaces.keys()] : [...new Set(namespaces)];
  const out: Entry[] = [];
  for (const ns of chosen) {
    const keys = payload.namespaces.get(ns);
    if (keys === undefined)
      throw new ExecEnvError(
        'unknown_namespace',
        `--namespace ${JSON.stringify(ns)}: no such namespace in the artifact; it has ${[...payload.namespaces.keys()].map((n) => JSON.stringify(n)).join(', ')}`,
      );
    for (const [key, value] of keys) out.push({ namespace: ns, key, value });
  }
  return out;
}

/** `--no-qualify`: a key in two selected namespaces has no one bare name. */
function refuseAmbiguous(entries: readonly Entry[]): void {
  const first = new Map<string, Entry>();
  for (const e of entries) {
    const other = first.get(e.key);
    if (other !== undefined)
      throw new ExecEnvError(
        'ambiguous_key',
        `--no-qualify: ${other.namespace ?? ''}__${other.key} and ${e.namespace ?? ''}__${e.key} share the key ${e.key}; select one namespace with --namespace or drop --no-qualify`,
      );
    first.set(e.key, e);
  }
}
