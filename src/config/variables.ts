/**
 * The settings table: every `CLEF_AGENT_*` variable the agent understands, declared once, in the
 * order start-up validates them (the README's configuration table follows the same order, and
 * test/config/readme-table.test.ts holds the two together). Each entry gives the name, the default
 * as users see it, one line of documentation, and how the value is parsed: a simple setting carries
 * its parser and fallback; a variable that only makes sense with others names the module that
 * resolves its group (the source / VCS group, the age key, the token, the timing rules).
 *
 * The unknown-variable check and its did-you-mean (unknown.ts) read their names from here, and so
 * do the group modules. Configurable defaults and bounds live here too; fixed limits that no
 * variable changes live in common/limits.ts.
 */
import { randomUUID } from 'node:crypto';
import { quote } from '../../common/display.js';
import { DEFAULT_MAX_KEYS, MIN_POLL_SECONDS } from '../../common/limits.js';
import { planCacheDir } from './cache-dir.js';
import { refuse } from './errors.js';
import { defaultWorkerCount, MAX_WORKERS, type CpuProbe } from './cpus.js';
import { agentId, boolean, httpUrl, integer, oneOf, text } from './parse.js';
import type { LogLevel } from './types.js';
import { parseOpsAddr } from './ops-addr.js';
import { DEFAULT_SOCKET_MODE, parsePort, parseSocketMode, parseSocketPath } from './socket.js';
import { parseVerifyKey } from './verify-key.js';

/** What parsers and fallbacks may need besides the raw value. */
export interface ParseContext {
  /** Base for relative paths. */
  readonly cwd: string;
  /** Where the CPU count for the default worker count comes from (see cpus.ts). */
  readonly cpu?: CpuProbe | undefined;
}

/** The modules that resolve a group of variables together (their names say where to look). */
export type Group = 'source' | 'age-key' | 'token' | 'timing';

interface Documented<N extends string> {
  readonly name: N;
  /** The default as the README shows it (without code formatting); UNSET when there is none. */
  readonly default: string;
  /** One line for humans; the README has the full story. */
  readonly doc: string;
}

/** Resolved with the other variables of its group, by `src/config/<group>.ts`. */
export interface GroupedVariable<N extends string = string> extends Documented<N> {
  readonly group: Group;
}

/** Parsed on its own: `parse` when set, `fallback` when unset (no fallback: the setting stays undefined). */
export interface ScalarVariable<N extends string = string, T = unknown> extends Documented<N> {
  readonly parse: (name: string, raw: string, ctx: ParseContext) => T;
  readonly fallback?: ((ctx: ParseContext) => T) | undefined;
}

export type Variable = GroupedVariable | ScalarVariable;

/** The README's mark for "no default": unset means off, or the value must come from elsewhere. */
export const UNSET = '—';

// Configurable bounds and defaults. Timer-backed values stay well under the 2^31-1 ms (about
// 24.8 days) that Node timers accept; beyond it `setTimeout` fires at once.
export const DEFAULT_PORT = 7779;
export const MAX_PORT = 65_535;
export const DEFAULT_CACHE_TTL = 300;
export const MIN_CACHE_TTL = 30;
/** 7 days. */
export const MAX_CACHE_TTL = 604_800;
export const DEFAULT_MAX_STALE = 300;
/** Twice the JIT poll interval, so at least one poll can land before the artifact goes stale. */
export const MIN_MAX_STALE = 10;
export const MAX_MAX_STALE = 604_800;
/** SPEC §4.1: never poll more often than every 5 s (the scheduler's own floor, so the two agree). */
export const MIN_POLL_INTERVAL = MIN_POLL_SECONDS;
/** 1 day. */
export const MAX_POLL_INTERVAL = 86_400;
/** Far above any sane token, far below Node's 16 KiB header cap. */
export const MAX_TOKEN_LENGTH = 1024;
/** Expectations and VCS refs end up in logs and comparisons; longer values are mistakes. */
export const MAX_NAME_LENGTH = 256;
export const DEFAULT_MAX_ARTIFACT_BYTES = 10 * 1024 * 1024;
export const MIN_MAX_ARTIFACT_BYTES = 1024;
export const MAX_MAX_ARTIFACT_BYTES = 256 * 1024 * 1024;
export { DEFAULT_MAX_KEYS };
/** Ten million keys is past what the largest artifact cap (256 MiB) can sensibly carry. */
export const MAX_MAX_KEYS = 10_000_000;
export const DEFAULT_MAX_CONNECTIONS = 1024;
export const MAX_MAX_CONNECTIONS = 65_535;
/** SPEC §10.2: long-poll waiters at once, each an open connection (they count against MAX_CONNECTIONS too). */
export const DEFAULT_MAX_WAITERS = 1024;
export const MAX_MAX_WAITERS = 65_535;
/** JIT backpressure: at ~0.1 ms a task, 256 waiting tasks are a few ms of queueing, not a pile-up. */
export const DEFAULT_MAX_QUEUE = 256;
export const MAX_MAX_QUEUE = 100_000;
export const DEFAULT_DECRYPT_TIMEOUT_MS = 5_000;
export const MIN_DECRYPT_TIMEOUT_MS = 100;
export const MAX_DECRYPT_TIMEOUT_MS = 60_000;
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
/** Public API bases, used unless CLEF_AGENT_VCS_API_URL names a self-hosted instance. */
export const VCS_DEFAULT_API = {
  github: 'https://api.github.com',
  gitlab: 'https://gitlab.com/api/v4',
  bitbucket: 'https://api.bitbucket.org/2.0',
} as const;

function grouped<N extends string>(name: N, group: Group, shownDefault: string, doc: string): GroupedVariable<N> {
  return { name, group, default: shownDefault, doc };
}

function scalar<N extends string, T>(v: ScalarVariable<N, T>): ScalarVariable<N, T> {
  return v;
}

/** An integer setting whose bounds the expectation spells out (`unit` in parentheses, if any). */
function bounded(min: number, max: number, unit?: string): (name: string, raw: string) => number {
  const expected = unit === undefined ? undefined : `an integer from ${min} to ${max} (${unit})`;
  return (name, raw) => integer(name, raw, min, max, expected);
}

export const VARIABLES = {
  source: grouped('CLEF_AGENT_SOURCE', 'source', UNSET, 'artifact location: a file path, an http(s) URL or an S3 URL (or the VCS group)'),
  vcsProvider: grouped('CLEF_AGENT_VCS_PROVIDER', 'source', UNSET, 'github, gitlab or bitbucket'),
  vcsRepo: grouped('CLEF_AGENT_VCS_REPO', 'source', UNSET, 'owner/repo, or a GitLab project path'),
  vcsToken: grouped('CLEF_AGENT_VCS_TOKEN', 'source', UNSET, "the provider's API token (secret)"),
  vcsIdentity: grouped('CLEF_AGENT_VCS_IDENTITY', 'source', UNSET, 'service identity: reads .clef/packed/<identity>/<environment>.age.json'),
  vcsEnvironment: grouped('CLEF_AGENT_VCS_ENVIRONMENT', 'source', UNSET, 'environment of the packed artifact'),
  vcsRef: grouped('CLEF_AGENT_VCS_REF', 'source', 'provider default', 'branch, tag or commit to read'),
  vcsApiUrl: grouped('CLEF_AGENT_VCS_API_URL', 'source', Object.values(VCS_DEFAULT_API).join(', '), 'API base URL of a self-hosted instance'),
  ageKey: grouped('CLEF_AGENT_AGE_KEY', 'age-key', UNSET, 'inline age secret key (secret; removed from the environment)'),
  ageKeyFile: grouped('CLEF_AGENT_AGE_KEY_FILE', 'age-key', UNSET, 'path to an age identity file, read by the workers'),
  port: scalar({
    name: 'CLEF_AGENT_PORT',
    default: String(DEFAULT_PORT),
    doc: 'listen port on 127.0.0.1; 0 asks the OS for a free one (for tests, which read it back); off = no TCP listener (needs CLEF_AGENT_SOCKET)',
    parse: parsePort,
    fallback: (): number | 'off' => DEFAULT_PORT,
  }),
  socket: scalar({
    name: 'CLEF_AGENT_SOCKET',
    default: UNSET,
    doc: 'also (or, with CLEF_AGENT_PORT=off, only) serve the API on this Unix domain socket',
    parse: (name, raw, ctx) => parseSocketPath(name, raw, ctx.cwd),
  }),
  socketMode: scalar({
    name: 'CLEF_AGENT_SOCKET_MODE',
    default: '0660',
    doc: "the socket's permission bits (octal); connecting needs write permission",
    parse: parseSocketMode,
    fallback: () => DEFAULT_SOCKET_MODE,
  }),
  token: grouped('CLEF_AGENT_TOKEN', 'token', 'generated', 'bearer token clients must send (secret)'),
  tokenFile: grouped('CLEF_AGENT_TOKEN_FILE', 'token', UNSET, 'file holding the bearer token, created 0600 when missing'),
  tokensFile: grouped('CLEF_AGENT_TOKENS_FILE', 'token', UNSET, 'JSON file of scoped tokens (name, SHA-256 of the token, namespaces); reloaded on SIGHUP'),
  agentId: scalar({
    name: 'CLEF_AGENT_ID',
    default: 'random UUID',
    doc: 'agent instance id for logs and telemetry',
    parse: agentId,
    fallback: () => randomUUID(),
  }),
  cacheTtl: grouped('CLEF_AGENT_CACHE_TTL', 'timing', String(DEFAULT_CACHE_TTL), 'seconds to serve without a successful refresh; 0 = JIT mode'),
  maxStale: grouped('CLEF_AGENT_MAX_STALE', 'timing', String(DEFAULT_MAX_STALE), 'JIT mode: seconds to serve without a successful refresh'),
  pollInterval: grouped(
    'CLEF_AGENT_POLL_INTERVAL',
    'timing',
    `CACHE_TTL/10 (min ${MIN_POLL_INTERVAL}); ${MIN_POLL_INTERVAL} in JIT mode`,
    'seconds between polls',
  ),
  cachePath: scalar({
    name: 'CLEF_AGENT_CACHE_PATH',
    default: UNSET,
    doc: 'directory for the encrypted disk fallback cache',
    parse: (_name, raw, ctx) => planCacheDir(raw, ctx.cwd),
  }),
  verifyKey: scalar({
    name: 'CLEF_AGENT_VERIFY_KEY',
    default: UNSET,
    doc: 'Ed25519 or P-256 public key that artifacts must be signed with',
    parse: parseVerifyKey,
  }),
  expectIdentity: scalar({
    name: 'CLEF_AGENT_EXPECT_IDENTITY',
    default: `VCS identity, else ${UNSET}`,
    doc: 'artifacts naming another identity are rejected',
    parse: (name, raw) => text(name, raw, MAX_NAME_LENGTH),
  }),
  expectEnvironment: scalar({
    name: 'CLEF_AGENT_EXPECT_ENVIRONMENT',
    default: `VCS environment, else ${UNSET}`,
    doc: 'artifacts naming another environment are rejected',
    parse: (name, raw) => text(name, raw, MAX_NAME_LENGTH),
  }),
  allowHttp: scalar({
    name: 'CLEF_AGENT_ALLOW_HTTP',
    default: 'false',
    doc: 'allow plain http to non-loopback hosts',
    parse: boolean,
    fallback: () => false,
  }),
  telemetryUrl: scalar({
    name: 'CLEF_AGENT_TELEMETRY_URL',
    default: UNSET,
    doc: 'OTLP/HTTP logs endpoint, used as given; wins over OTEL_EXPORTER_OTLP_LOGS_ENDPOINT',
    parse: (name, raw) => httpUrl(name, raw),
  }),
  opsAddr: scalar({
    name: 'CLEF_AGENT_OPS_ADDR',
    default: UNSET,
    doc: 'host:port of the operations listener (health, ready, Prometheus /metrics; no secrets); unset = off',
    parse: parseOpsAddr,
  }),
  logLevel: scalar({
    name: 'CLEF_AGENT_LOG_LEVEL',
    default: DEFAULT_LOG_LEVEL,
    doc: 'the least severe log level written',
    parse: (name, raw) => oneOf(name, raw, LOG_LEVELS, 'log level'),
    fallback: () => DEFAULT_LOG_LEVEL,
  }),
  maxArtifactBytes: scalar({
    name: 'CLEF_AGENT_MAX_ARTIFACT_BYTES',
    default: `${DEFAULT_MAX_ARTIFACT_BYTES} (10 MiB)`,
    doc: 'largest artifact accepted, after HTTP decompression',
    parse: bounded(MIN_MAX_ARTIFACT_BYTES, MAX_MAX_ARTIFACT_BYTES, 'bytes'),
    fallback: () => DEFAULT_MAX_ARTIFACT_BYTES,
  }),
  maxKeys: scalar({
    name: 'CLEF_AGENT_MAX_KEYS',
    default: String(DEFAULT_MAX_KEYS),
    doc: 'most keys a payload may hold; a larger one is rejected (too_many_keys)',
    parse: bounded(1, MAX_MAX_KEYS, 'keys in the payload'),
    fallback: () => DEFAULT_MAX_KEYS,
  }),
  maxConnections: scalar({
    name: 'CLEF_AGENT_MAX_CONNECTIONS',
    default: String(DEFAULT_MAX_CONNECTIONS),
    doc: 'open connections served; beyond it requests get 429',
    parse: bounded(1, MAX_MAX_CONNECTIONS),
    fallback: () => DEFAULT_MAX_CONNECTIONS,
  }),
  maxWaiters: scalar({
    name: 'CLEF_AGENT_MAX_WAITERS',
    default: String(DEFAULT_MAX_WAITERS),
    doc: 'long-poll requests (?wait=) parked at once, at most CLEF_AGENT_MAX_CONNECTIONS less 1/16; beyond it they get 503 overloaded',
    parse: bounded(1, MAX_MAX_WAITERS, 'parked long-poll requests'),
    fallback: () => DEFAULT_MAX_WAITERS,
  }),
  maxQueue: scalar({
    name: 'CLEF_AGENT_MAX_QUEUE',
    default: String(DEFAULT_MAX_QUEUE),
    doc: 'JIT mode: worker tasks that may wait before requests get 503 overloaded',
    parse: bounded(1, MAX_MAX_QUEUE, 'tasks waiting for a worker'),
    fallback: () => DEFAULT_MAX_QUEUE,
  }),
  decryptTimeoutMs: scalar({
    name: 'CLEF_AGENT_DECRYPT_TIMEOUT_MS',
    default: String(DEFAULT_DECRYPT_TIMEOUT_MS),
    doc: "JIT mode: deadline of one request's worker task",
    parse: bounded(MIN_DECRYPT_TIMEOUT_MS, MAX_DECRYPT_TIMEOUT_MS, 'milliseconds'),
    fallback: () => DEFAULT_DECRYPT_TIMEOUT_MS,
  }),
  workers: scalar({
    name: 'CLEF_AGENT_WORKERS',
    default: 'CPUs − 1 (min 1)',
    doc: 'worker pool size',
    parse: bounded(1, MAX_WORKERS),
    fallback: (ctx) => defaultWorkerCount(ctx.cpu),
  }),
  lambdaExtensionName: scalar({
    name: 'CLEF_AGENT_LAMBDA_EXTENSION_NAME',
    default: "the executable's file name",
    doc: "Lambda extension mode: the name registered (Lambda-Extension-Name); the layer's extensions/clef-agent sets it to its own file name",
    parse: (name, raw) => {
      const value = text(name, raw, MAX_NAME_LENGTH, 'the file name of the extension in /opt/extensions (letters, digits, ".", "_", "-")');
      if (!/^[A-Za-z0-9._-]+$/.test(value) || value === '.' || value === '..') {
        refuse(name, `${quote(value)} is not a file name`, 'the file name of the extension in /opt/extensions (letters, digits, ".", "_", "-")');
      }
      return value;
    },
  }),
};

type Table = typeof VARIABLES;
export type KnownVariable = Table[keyof Table]['name'];

/** Every entry, in validation order. */
export const VARIABLE_LIST: readonly Variable[] = Object.values(VARIABLES);
export const KNOWN_VARIABLES: readonly KnownVariable[] = Object.values(VARIABLES).map((v) => v.name);
