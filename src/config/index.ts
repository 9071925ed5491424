/**
 * Start-up configuration (SPEC §3): every `CLEF_AGENT_*` variable parsed and validated before
 * anything listens. Every problem is collected and reported at once, one line each, in this fixed
 * order: unknown names, source / VCS group, age key, port, token, id, timing, cache path, verify
 * key, expectations, allow-http, telemetry, log level, limits, workers, then the cross-variable
 * rules (plain http, VCS expectations).
 *
 * Side effects, both deliberate: CLEF_AGENT_AGE_KEY is deleted from `env` (child processes must
 * never inherit it), and a missing CLEF_AGENT_TOKEN_FILE is created — only once every other
 * setting is valid, so a refused start-up leaves nothing behind.
 */
import { randomUUID } from 'node:crypto';
import { refuse, Issues } from './errors.js';
import { defaultWorkerCount, MAX_WORKERS, type CpuProbe } from './cpus.js';
import { parseVerifyKey, resolveAgeKey } from './keys.js';
import { isLoopbackHost } from '../../common/net.js';
import { boolean, directoryPath, httpUrl, integer, oneOf, read, text, type Env } from './parse.js';
import { maskUrl, quote } from '../../common/display.js';
import { checkPlainHttp, resolveSource } from './source.js';
import { resolveTiming } from './timing.js';
import { finishToken, planToken } from './token.js';
import type { Config, LogLevel } from './types.js';
import { checkUnknown } from './variables.js';

export { ConfigError, type ConfigIssue } from './errors.js';
export { KNOWN_VARIABLES, type KnownVariable } from './variables.js';
export type { CpuProbe } from './cpus.js';
export type { AgeKeySource, Config, LogLevel, VcsConfig } from './types.js';

/** What the environment does not say. Both have production defaults; tests pass temp values. */
export interface LoadConfigDeps {
  /** Base for relative paths (SOURCE, TOKEN_FILE, AGE_KEY_FILE, CACHE_PATH). Default: process.cwd(). */
  readonly cwd?: string | undefined;
  /** Where the CPU count for the default worker count comes from (see cpus.ts). */
  readonly cpu?: CpuProbe | undefined;
}

export const DEFAULT_PORT = 7779;
export const DEFAULT_MAX_ARTIFACT_BYTES = 10 * 1024 * 1024;
export const MIN_MAX_ARTIFACT_BYTES = 1024;
export const MAX_MAX_ARTIFACT_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MAX_CONNECTIONS = 1024;
export const MAX_MAX_CONNECTIONS = 65_535;
/** JIT backpressure: at ~0.1 ms a task, 256 waiting tasks are a few ms of queueing, not a pile-up. */
export const DEFAULT_MAX_QUEUE = 256;
export const MAX_MAX_QUEUE = 100_000;
export const DEFAULT_DECRYPT_TIMEOUT_MS = 5_000;
export const MIN_DECRYPT_TIMEOUT_MS = 100;
export const MAX_DECRYPT_TIMEOUT_MS = 60_000;
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

const AGENT_ID_EXPECTED = '1 to 128 characters: letters, digits and . _ - : @ / + =';

/** The id goes into logs and telemetry attributes, so it is kept to a conservative character set. */
function parseAgentId(raw: string): string {
  const name = 'CLEF_AGENT_ID';
  if (raw === '') refuse(name, 'is empty', AGENT_ID_EXPECTED);
  if (raw.length > 128) refuse(name, `${quote(raw)} is longer than 128 characters`, AGENT_ID_EXPECTED);
  if (!/^[A-Za-z0-9._:@/+=-]+$/.test(raw)) refuse(name, `${quote(raw)} contains a character that is not allowed`, AGENT_ID_EXPECTED);
  return raw;
}

/** A value that validation guarantees; reaching the throw would be a bug in this module. */
function ok<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('config: a validated value is missing');
  return value;
}

export function loadConfig(env: Env, deps: LoadConfigDeps = {}): Config {
  const cwd = deps.cwd ?? process.cwd();
  const issues = new Issues();
  const warnings: string[] = [];
  /** Parses a set variable; unset gives `fallback()` (undefined for optional settings). */
  const setting = <T>(name: string, parse: (raw: string) => T, fallback: () => T | undefined = () => undefined): T | undefined => {
    const raw = read(env, name);
    return raw === undefined ? fallback() : issues.run(() => parse(raw));
  };

  checkUnknown(env, issues);
  const source = resolveSource(env, cwd, issues);
  const ageKey = resolveAgeKey(env, cwd, issues, warnings);
  // 0 asks the OS for any free port; meant for tests, which read the bound port back.
  const port = setting(
    'CLEF_AGENT_PORT',
    (r) => integer('CLEF_AGENT_PORT', r, 0, 65_535),
    () => DEFAULT_PORT,
  );
  const tokenPlan = planToken(env, cwd, issues);
  const agentId = setting('CLEF_AGENT_ID', parseAgentId, () => randomUUID());
  const timing = resolveTiming(env, issues, warnings);
  const cachePath = setting('CLEF_AGENT_CACHE_PATH', (r) =>
    directoryPath('CLEF_AGENT_CACHE_PATH', r, cwd, 'a directory for the disk cache (created later if missing)'),
  );
  const verify = setting('CLEF_AGENT_VERIFY_KEY', parseVerifyKey);
  const expectIdentity = setting('CLEF_AGENT_EXPECT_IDENTITY', (r) => text('CLEF_AGENT_EXPECT_IDENTITY', r, 256));
  const expectEnvironment = setting('CLEF_AGENT_EXPECT_ENVIRONMENT', (r) => text('CLEF_AGENT_EXPECT_ENVIRONMENT', r, 256));
  const allowHttp = setting(
    'CLEF_AGENT_ALLOW_HTTP',
    (r) => boolean('CLEF_AGENT_ALLOW_HTTP', r),
    () => false,
  );
  const telemetry = setting('CLEF_AGENT_TELEMETRY_URL', (r) => httpUrl('CLEF_AGENT_TELEMETRY_URL', r));
  const logLevel = setting(
    'CLEF_AGENT_LOG_LEVEL',
    (r) => oneOf('CLEF_AGENT_LOG_LEVEL', r, LOG_LEVELS, 'log level'),
    () => 'info' as const,
  );
  const maxArtifactBytes = setting(
    'CLEF_AGENT_MAX_ARTIFACT_BYTES',
    (r) =>
      integer(
        'CLEF_AGENT_MAX_ARTIFACT_BYTES',
        r,
        MIN_MAX_ARTIFACT_BYTES,
        MAX_MAX_ARTIFACT_BYTES,
        `an integer from ${MIN_MAX_ARTIFACT_BYTES} to ${MAX_MAX_ARTIFACT_BYTES} (bytes)`,
      ),
    () => DEFAULT_MAX_ARTIFACT_BYTES,
  );
  const maxConnections = setting(
    'CLEF_AGENT_MAX_CONNECTIONS',
    (r) => integer('CLEF_AGENT_MAX_CONNECTIONS', r, 1, MAX_MAX_CONNECTIONS),
    () => DEFAULT_MAX_CONNECTIONS,
  );
  const maxQueue = setting(
    'CLEF_AGENT_MAX_QUEUE',
    (r) => integer('CLEF_AGENT_MAX_QUEUE', r, 1, MAX_MAX_QUEUE, `an integer from 1 to ${MAX_MAX_QUEUE} (tasks waiting for a worker)`),
    () => DEFAULT_MAX_QUEUE,
  );
  const decryptTimeoutMs = setting(
    'CLEF_AGENT_DECRYPT_TIMEOUT_MS',
    (r) =>
      integer(
        'CLEF_AGENT_DECRYPT_TIMEOUT_MS',
        r,
        MIN_DECRYPT_TIMEOUT_MS,
        MAX_DECRYPT_TIMEOUT_MS,
        `an integer from ${MIN_DECRYPT_TIMEOUT_MS} to ${MAX_DECRYPT_TIMEOUT_MS} (milliseconds)`,
      ),
    () => DEFAULT_DECRYPT_TIMEOUT_MS,
  );
  const workers = setting(
    'CLEF_AGENT_WORKERS',
    (r) => integer('CLEF_AGENT_WORKERS', r, 1, MAX_WORKERS),
    () => defaultWorkerCount(deps.cpu),
  );

  // Cross-variable rules, once each side is known to be valid.
  const verifyKeySet = read(env, 'CLEF_AGENT_VERIFY_KEY') !== undefined;
  if (source !== undefined && allowHttp !== undefined) checkPlainHttp(source, allowHttp, verifyKeySet, issues);
  const vcs = source?.vcs;
  if (vcs !== undefined) {
    if (expectIdentity !== undefined && expectIdentity !== vcs.identity) {
      issues.add(
        'CLEF_AGENT_EXPECT_IDENTITY',
        `${quote(expectIdentity)} differs from CLEF_AGENT_VCS_IDENTITY (${quote(vcs.identity)})`,
        'the same identity, or unset',
      );
    }
    if (expectEnvironment !== undefined && expectEnvironment !== vcs.environment) {
      issues.add(
        'CLEF_AGENT_EXPECT_ENVIRONMENT',
        `${quote(expectEnvironment)} differs from CLEF_AGENT_VCS_ENVIRONMENT (${quote(vcs.environment)})`,
        'the same environment, or unset',
      );
    }
  }
  if (telemetry !== undefined && telemetry.protocol === 'http:' && !isLoopbackHost(telemetry.hostname)) {
    warnings.push(
      `CLEF_AGENT_TELEMETRY_URL ${quote(maskUrl(telemetry), 120)} uses plain http to a non-loopback host; telemetry and its auth headers travel unencrypted`,
    );
  }
  issues.throwIfAny();

  const token = finishToken(ok(tokenPlan));
  const t = ok(timing);
  const src = ok(source);
  return {
    source: ok(src.source),
    sourceLabel: ok(src.label),
    vcs,
    ageKey,
    port: ok(port),
    token: token.token,
    tokenOrigin: token.tokenOrigin,
    tokenFile: token.tokenFile,
    agentId: ok(agentId),
    cacheTtl: t.cacheTtl,
    maxStale: t.maxStale,
    pollInterval: t.pollInterval,
    pollIntervalExplicit: t.pollIntervalExplicit,
    cachePath,
    verifyKey: verify?.verifyKey,
    verifyKeyType: verify?.verifyKeyType,
    expectIdentity: expectIdentity ?? vcs?.identity,
    expectEnvironment: expectEnvironment ?? vcs?.environment,
    allowHttp: ok(allowHttp),
    telemetryUrl: telemetry?.href,
    logLevel: ok(logLevel),
    maxArtifactBytes: ok(maxArtifactBytes),
    maxConnections: ok(maxConnections),
    workers: ok(workers),
    maxQueue: ok(maxQueue),
    decryptTimeoutMs: ok(decryptTimeoutMs),
    warnings: [...warnings, ...token.warnings],
  };
}
