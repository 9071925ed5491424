/**
 * Start-up configuration (SPEC §3): every `CLEF_AGENT_*` variable parsed and validated before
 * anything listens. The variables, their defaults and parsers are declared once, in the settings
 * table (variables.ts). Every problem is collected and reported at once, one line each, in the
 * table's order: unknown names, source / VCS group, age key, port, token, id, timing, cache path,
 * verify key, expectations, allow-http, telemetry, log level, limits, workers, then the
 * cross-variable rules (plain http, AWS endpoints, VCS expectations).
 *
 * Side effects, all deliberate: CLEF_AGENT_AGE_KEY is deleted from `env` (child processes must
 * never inherit it), and a missing CLEF_AGENT_TOKEN_FILE or cache directory is created — only once
 * every other setting is valid, so a refused start-up leaves nothing behind.
 */
import { Issues } from './errors.js';
import { resolveAgeKey } from './age-key.js';
import { finishCacheDir } from './cache-dir.js';
import type { CpuProbe } from './cpus.js';
import { longPollLimit } from '../../common/limits.js';
import { isPlainRemoteHttp } from '../../common/net.js';
import { read, type Env } from './parse.js';
import { maskUrl, quote } from '../../common/display.js';
import { checkAwsEndpoints, checkPlainHttp, resolveSource } from './source.js';
import { resolveTelemetry } from '../telemetry/exporter-config.js';
import { resolveTiming } from './timing.js';
import { checkDistinct, resolveScopedTokens } from './scoped-tokens.js';
import { finishToken, NO_MAIN_TOKEN, planToken } from './token.js';
import type { Config } from './types.js';
import { checkUnknown } from './unknown.js';
import { VARIABLES as V, type ParseContext, type ScalarVariable } from './variables.js';

export { ConfigError, type ConfigIssue } from './errors.js';
export {
  DEFAULT_DECRYPT_TIMEOUT_MS,
  DEFAULT_MAX_ARTIFACT_BYTES,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_KEYS,
  DEFAULT_MAX_QUEUE,
  DEFAULT_PORT,
  KNOWN_VARIABLES,
  LOG_LEVELS,
  VARIABLES,
  type KnownVariable,
} from './variables.js';
export type { CpuProbe } from './cpus.js';
export type { AgeKeySource, Config, LogLevel, VcsConfig } from './types.js';

/** What the environment does not say. Both have production defaults; tests pass temp values. */
export interface LoadConfigDeps {
  /** Base for relative paths (SOURCE, TOKEN_FILE, AGE_KEY_FILE, CACHE_PATH). Default: process.cwd(). */
  readonly cwd?: string | undefined;
  /** Where the CPU count for the default worker count comes from (see cpus.ts). */
  readonly cpu?: CpuProbe | undefined;
}

/** A value that validation guarantees; reaching the throw would be a bug in this module. */
function ok<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('config: a validated value is missing');
  return value;
}

export function loadConfig(env: Env, deps: LoadConfigDeps = {}): Config {
  const cwd = deps.cwd ?? process.cwd();
  const ctx: ParseContext = { cwd, cpu: deps.cpu };
  const issues = new Issues();
  const warnings: string[] = [];
  /** A simple setting from the table: parsed when set, its fallback (if any) when unset. */
  const setting = <T>(v: ScalarVariable<string, T>): T | undefined => {
    const raw = read(env, v.name);
    return raw === undefined ? v.fallback?.(ctx) : issues.run(() => v.parse(v.name, raw, ctx));
  };

  checkUnknown(env, issues);
  const source = resolveSource(env, cwd, issues);
  const ageKey = resolveAgeKey(env, cwd, issues, warnings);
  const port = setting(V.port);
  const socket = setting(V.socket);
  const socketMode = setting(V.socketMode);
  const tokenPlan = planToken(env, cwd, issues);
  const scoped = resolveScopedTokens(env, cwd, issues);
  const agentId = setting(V.agentId);
  const timing = resolveTiming(env, issues, warnings);
  const cachePlan = setting(V.cachePath);
  const verify = setting(V.verifyKey);
  const expectIdentity = setting(V.expectIdentity);
  const expectEnvironment = setting(V.expectEnvironment);
  const allowHttp = setting(V.allowHttp);
  const telemetry = setting(V.telemetryUrl);
  const opsAddr = setting(V.opsAddr);
  const logLevel = setting(V.logLevel);
  const maxArtifactBytes = setting(V.maxArtifactBytes);
  const maxKeys = setting(V.maxKeys);
  const maxConnections = setting(V.maxConnections);
  const maxWaiters = setting(V.maxWaiters);
  const maxQueue = setting(V.maxQueue);
  const decryptTimeoutMs = setting(V.decryptTimeoutMs);
  const workers = setting(V.workers);
  const lambdaExtensionName = setting(V.lambdaExtensionName);

  // Cross-variable rules, once each side is known to be valid.
  const verifyKeySet = read(env, V.verifyKey.name) !== undefined;
  if (source !== undefined && allowHttp !== undefined) checkPlainHttp(source, { allowHttp, verifyKeySet }, issues);
  checkAwsEndpoints(env, allowHttp, issues);
  const vcs = source?.vcs;
  if (vcs !== undefined) {
    if (expectIdentity !== undefined && expectIdentity !== vcs.identity) {
      issues.add(V.expectIdentity.name, `${quote(expectIdentity)} differs from ${V.vcsIdentity.name} (${quote(vcs.identity)})`, 'the same identity, or unset');
    }
    if (expectEnvironment !== undefined && expectEnvironment !== vcs.environment) {
      issues.add(
        V.expectEnvironment.name,
        `${quote(expectEnvironment)} differs from ${V.vcsEnvironment.name} (${quote(vcs.environment)})`,
        'the same environment, or unset',
      );
    }
  }
  const telemetryConfig = resolveTelemetry(env, telemetry, allowHttp, issues);
  if (telemetry !== undefined && isPlainRemoteHttp(telemetry)) {
    warnings.push(
      `${V.telemetryUrl.name} ${quote(maskUrl(telemetry), 120)} uses plain http to a non-loopback host (allowed by CLEF_AGENT_ALLOW_HTTP); telemetry and its auth headers travel unencrypted`,
    );
  }
  if (port === 'off' && socket === undefined && read(env, V.socket.name) === undefined) {
    issues.add(V.port.name, 'is off but CLEF_AGENT_SOCKET is not set', 'a port, or off together with CLEF_AGENT_SOCKET (the API must listen somewhere)');
  }
  if (read(env, V.socketMode.name) !== undefined && read(env, V.socket.name) === undefined) {
    issues.add(V.socketMode.name, 'is set but CLEF_AGENT_SOCKET is not', 'CLEF_AGENT_SOCKET_MODE only together with CLEF_AGENT_SOCKET');
  }
  if (socket !== undefined && socketMode !== undefined && (socketMode & 0o006) !== 0) {
    warnings.push(
      `${V.socketMode.name} ${socketMode.toString(8).padStart(4, '0')} lets every local user connect to the socket; the token is then the only barrier (0660 or 0600 keeps them out)`,
    );
  }
  // Two listeners on one port cannot both bind; 0 (any free port) is the one value they may share.
  if (opsAddr !== undefined && port !== undefined && opsAddr.port !== 0 && opsAddr.port === port) {
    issues.add(V.opsAddr.name, `port ${opsAddr.port} is the secrets API port (${V.port.name})`, 'a port other than the API port');
  }
  if (scoped !== undefined && tokenPlan?.kind === 'ready') issues.run(() => checkDistinct(tokenPlan.token, scoped.tokens));
  // Said only when the operator set the waiter cap: the defaults (1024 and 1024) are capped quietly.
  if (maxWaiters !== undefined && maxConnections !== undefined && read(env, V.maxWaiters.name) !== undefined) {
    const limit = longPollLimit(maxWaiters, maxConnections);
    if (limit < maxWaiters) {
      warnings.push(
        `${V.maxWaiters.name} ${maxWaiters}: at most ${limit} long polls park at once, keeping ${maxConnections - limit} of the ${maxConnections} connections (${V.maxConnections.name}) free for probes and other requests; raise ${V.maxConnections.name} to park more`,
      );
    }
  }
  issues.throwIfAny();

  const cachePath = cachePlan === undefined ? undefined : finishCacheDir(cachePlan);
  // Only scoped tokens configured (no CLEF_AGENT_TOKEN, no CLEF_AGENT_TOKEN_FILE): no main token is
  // generated, since nobody could read it, and only the scoped tokens open the API.
  const token = scoped !== undefined && tokenPlan?.kind === 'generate' && tokenPlan.file === undefined ? NO_MAIN_TOKEN : finishToken(ok(tokenPlan));
  const t = ok(timing);
  const src = ok(source);
  return {
    source: ok(src.source),
    sourceLabel: ok(src.label),
    vcs,
    ageKey,
    port: ok(port),
    socket: socket === undefined ? undefined : { path: socket, mode: ok(socketMode) },
    token: token.token,
    tokenOrigin: token.tokenOrigin,
    tokenFile: token.tokenFile,
    tokensFile: scoped?.file,
    scopedTokens: scoped?.tokens,
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
    telemetry: telemetryConfig,
    opsAddr,
    logLevel: ok(logLevel),
    maxArtifactBytes: ok(maxArtifactBytes),
    maxKeys: ok(maxKeys),
    maxConnections: ok(maxConnections),
    maxWaiters: ok(maxWaiters),
    workers: ok(workers),
    maxQueue: ok(maxQueue),
    decryptTimeoutMs: ok(decryptTimeoutMs),
    lambdaExtensionName,
    warnings: [...warnings, ...token.warnings],
  };
}
