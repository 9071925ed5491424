/**
 * What the refresh loop and the serving modes tell each other: the mode receives what a refresh
 * produced, and reads the loop's status for readiness and `/v1/health`.
 */
import type { ArtifactMeta, EncryptedArtifact, SnapshotWire } from '../../common/protocol.js';

/** What a successful load hands the mode: a decrypted snapshot (cached) or the encrypted artifact (JIT). */
export type Loaded =
  | { readonly kind: 'snapshot'; readonly snapshot: SnapshotWire }
  | { readonly kind: 'artifact'; readonly artifact: EncryptedArtifact; readonly keyCount: number };

/** Receives what a refresh produced. Implemented by the serving mode. */
export interface RefreshSink {
  /** Which load the mode needs from the workers. */
  readonly name: 'cached' | 'jit';
  /** A new artifact passed validation: swap it in atomically. */
  accept(meta: ArtifactMeta, loaded: Loaded): void;
  /** Drop every copy now (revocation, expiry, TTL ran out). */
  drop(): void;
  /** Whether decrypted data is held (an `unchanged` answer only keeps fresh what is held). */
  hasData(): boolean;
}

/**
 * The last failure as `/v1/health` reports it: its code and when, never its message. Health needs
 * no token, and messages name source hosts and paths, KMS key ARNs and text from the artifact; they
 * stay in the logs.
 */
export interface LastError {
  readonly code: string;
  readonly status?: number | undefined;
  readonly at: number;
}

/** What the refresh loop knows; read by the modes for readiness and `/v1/health`. */
export interface RefreshStatus {
  meta?: ArtifactMeta | undefined;
  lastSuccessAt?: number | undefined;
  lastAttemptAt?: number | undefined;
  lastError?: LastError | undefined;
  revokedAt?: string | undefined;
  expired: boolean;
}

/**
 * What started a refresh: `invoke` is a Lambda INVOKE event (the extension's poll, SPEC §6);
 * `reload` a SIGHUP, `api` a `POST /v1/refresh` (SPEC §10.5).
 */
export type RefreshTrigger = 'startup' | 'poll' | 'request' | 'invoke' | 'reload' | 'api';
