import type { SourceSpec } from '../../common/protocol.js';
import type { OpsAddr } from './ops-addr.js';
import type { ScopedToken } from './scoped-tokens.js';
import type { SealedBytes } from './sealed.js';
import type { TelemetryConfig } from '../telemetry/exporter-config.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** The VCS group of SPEC §3, as configured (the fetch itself uses `Config.source`, kind `vcs`). */
export interface VcsConfig {
  readonly provider: 'github' | 'gitlab' | 'bitbucket';
  readonly repo: string;
  /** Secret: never logged. */
  readonly token: string;
  readonly identity: string;
  readonly environment: string;
  readonly ref?: string | undefined;
  readonly apiUrl?: string | undefined;
}

/**
 * Where the age identity comes from. The main thread never parses the key: an inline key is kept
 * only as opaque bytes to hand to workers, a key file only as a path the workers read.
 */
export type AgeKeySource = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'inline'; readonly sealed: SealedBytes };

/** The validated configuration. Everything here was checked before anything listens. */
export interface Config {
  /** The artifact location (for a VCS group: kind `vcs`, token included — never logged). */
  readonly source: SourceSpec;
  /** For logs: the source with any URL credentials masked. */
  readonly sourceLabel: string;
  readonly vcs?: VcsConfig | undefined;
  readonly ageKey?: AgeKeySource | undefined;
  /** The TCP port on 127.0.0.1; `off` = no TCP listener (then `socket` is set). */
  readonly port: number | 'off';
  /** The Unix socket listener (SPEC §10.4); undefined = none. */
  readonly socket?: { readonly path: string; readonly mode: number } | undefined;
  /** Secret: never logged. Undefined only when CLEF_AGENT_TOKENS_FILE is the sole credential source (no main token). */
  readonly token: string | undefined;
  /** Where the token came from, for the start-up log; `none`: only scoped tokens (CLEF_AGENT_TOKENS_FILE). */
  readonly tokenOrigin: 'env' | 'file' | 'generated' | 'generated-file' | 'none';
  readonly tokenFile?: string | undefined;
  /** CLEF_AGENT_TOKENS_FILE (SPEC §10.3) and what it held at start-up; reloaded on SIGHUP. */
  readonly tokensFile?: string | undefined;
  readonly scopedTokens?: readonly ScopedToken[] | undefined;
  readonly agentId: string;
  /** Seconds; 0 means JIT mode. */
  readonly cacheTtl: number;
  readonly maxStale: number;
  /** Seconds between polls (explicit or derived per SPEC §4.1). */
  readonly pollInterval: number;
  readonly pollIntervalExplicit: boolean;
  /** The disk cache directory decided at start-up (config/cache-dir.ts): CLEF_AGENT_CACHE_PATH or its private subdirectory. */
  readonly cachePath?: string | undefined;
  /** Base64 DER SubjectPublicKeyInfo, already checked to be Ed25519 or EC P-256. */
  readonly verifyKey?: string | undefined;
  readonly verifyKeyType?: 'ed25519' | 'p256' | undefined;
  readonly expectIdentity?: string | undefined;
  readonly expectEnvironment?: string | undefined;
  readonly allowHttp: boolean;
  readonly telemetryUrl?: string | undefined;
  /** Export settings (src/telemetry/exporter-config.ts); undefined: telemetry is off and its SDK never loads. */
  readonly telemetry?: TelemetryConfig | undefined;
  /** The operations listener (SPEC §8); undefined = off. */
  readonly opsAddr?: OpsAddr | undefined;
  readonly logLevel: LogLevel;
  readonly maxArtifactBytes: number;
  /** Most keys a payload may hold (CLEF_AGENT_MAX_KEYS); checked in the workers. */
  readonly maxKeys: number;
  readonly maxConnections: number;
  /** Long-poll requests parked at once (SPEC §10.2); beyond it 503 `overloaded`. */
  readonly maxWaiters: number;
  readonly workers: number;
  /** Lambda extension mode: the name to register (CLEF_AGENT_LAMBDA_EXTENSION_NAME); unset = the executable's file name. */
  readonly lambdaExtensionName?: string | undefined;
  /** JIT mode: tasks that may wait for a worker before requests get 503 `overloaded`. */
  readonly maxQueue: number;
  /** Deadline of one worker task serving a request (JIT); past it the worker is replaced. */
  readonly decryptTimeoutMs: number;
  /** Human-readable notes for the start-up log (e.g. a short token). Never contain secrets. */
  readonly warnings: readonly string[];
}
