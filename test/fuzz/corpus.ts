/**
 * Corpus replay (test/corpus/README.md): raw HTTP requests and artifact templates that once
 * failed or reproduce a known attack, each with its expected outcome in the folder's
 * `expected.json`. corpus.test.ts replays test/corpus/{http,artifacts}.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signingPayload, type PackedArtifact } from '../../common/artifact.js';
import type { LoadResult, LoadTask } from '../../common/protocol.js';
import { runTask } from '../../workers/index.js';
import { buildArtifact, type AgeKeyPair, type SigningKey } from '../helpers/artifacts.js';
import { signatureFields } from '../helpers/artifacts.js';
import { exchange, parseResponses } from './http-wire.js';

/** test/corpus in the source tree (tests run from dist/test/fuzz). */
export const CORPUS = fileURLToPath(new URL('../../../test/corpus/', import.meta.url));

export interface HttpExpectation {
  /** Every response's status, in order. */
  readonly statuses: readonly number[];
  /** The `reason` of each JSON error body, in order (null: no JSON body, e.g. Node's own answers). */
  readonly reasons?: readonly (string | null)[];
  readonly why: string;
}

export interface ArtifactExpectation {
  /** A failure code, or `loaded` / `revoked`. */
  readonly outcome: string;
  /** Sign the filled template with the test's key (and pass the verify key). */
  readonly sign?: boolean;
  readonly why: string;
}

export function readTable<T>(dir: string): Record<string, T> {
  const table = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, T>;
  const files = readdirSync(dir).filter((f) => f !== 'expected.json' && f !== 'README.md');
  const missing = files.filter((f) => !(f in table));
  const extra = Object.keys(table).filter((f) => !files.includes(f));
  if (missing.length || extra.length)
    throw new Error(`${dir}: files without an expectation: ${missing.join(', ') || 'none'}; expectations without a file: ${extra.join(', ') || 'none'}`);
  return table;
}

export interface HttpOutcome {
  readonly statuses: number[];
  readonly reasons: (string | null)[];
  readonly received: string;
}

/** Sends one corpus request ({{PORT}} and {{TOKEN}} filled in), half-closes, and reads every response. */
export async function replayHttp(file: string, port: number, token: string): Promise<HttpOutcome> {
  const text = readFileSync(file, 'latin1').replaceAll('{{PORT}}', String(port)).replaceAll('{{TOKEN}}', token);
  const x = await exchange(port, Buffer.from(text, 'latin1'), { pieces: [], delays: [0], finish: 'end', cutAfterMs: 0, timeoutMs: 15_000 });
  const rs = parseResponses(x.received, false);
  const finals = rs.filter((r) => r.status >= 200);
  return {
    statuses: finals.map((r) => r.status),
    reasons: finals.map((r) => {
      if (!/^application\/json/.test(r.headers.get('content-type') ?? '') || r.body.length === 0) return null;
      return (JSON.parse(r.body.toString('utf8')) as { reason?: string }).reason ?? null;
    }),
    received: x.received.toString('latin1'),
  };
}

export interface ArtifactContext {
  readonly age: AgeKeyPair;
  readonly key: SigningKey;
  readonly dir: string;
  /** A good age ciphertext (base64) of the payload the corpus expects. */
  readonly ciphertext: string;
}

export async function artifactContext(age: AgeKeyPair, key: SigningKey, dir: string, payload: unknown): Promise<ArtifactContext> {
  const a = await buildArtifact({ recipient: age.recipient, payload });
  return { age, key, dir, ciphertext: String(a['ciphertext']) };
}

/**
 * Fills a template's placeholders: {{CIPHERTEXT}} and {{HASH}} (a good age ciphertext and its
 * hash), {{PACKED_AT}} (a minute ago), {{FUTURE_1H}}, {{PAST_1H}}; signs it when asked.
 */
export function fillArtifact(template: Buffer, c: ArtifactContext, sign: boolean): Buffer {
  const now = Date.now();
  let text = template
    .toString('latin1')
    .replaceAll('{{CIPHERTEXT}}', c.ciphertext)
    .replaceAll('{{HASH}}', createHash('sha256').update(c.ciphertext, 'utf8').digest('hex'))
    .replaceAll('{{PACKED_AT}}', new Date(now - 60_000).toISOString())
    .replaceAll('{{FUTURE_1H}}', new Date(now + 3_600_000).toISOString())
    .replaceAll('{{PAST_1H}}', new Date(now - 3_600_000).toISOString());
  if (sign) {
    const a = JSON.parse(Buffer.from(text, 'latin1').toString('utf8')) as Record<string, unknown>;
    Object.assign(a, signatureFields(c.key, signingPayload(a as unknown as PackedArtifact)));
    text = Buffer.from(JSON.stringify(a), 'utf8').toString('latin1');
  }
  return Buffer.from(text, 'latin1');
}

let seq = 0;

/** The load task's outcome for one corpus artifact: a failure code, or `loaded`/`verified`/`revoked`. */
export async function replayArtifact(file: string, c: ArtifactContext, sign: boolean): Promise<{ outcome: string; result: LoadResult }> {
  const path = join(c.dir, `corpus-${seq++}.json`);
  writeFileSync(path, fillArtifact(readFileSync(file), c, sign));
  const task: LoadTask = {
    type: 'load',
    mode: 'cached',
    source: { kind: 'file', path },
    fetch: { timeoutMs: 5_000, maxBytes: 4 << 20, retries: 0, allowHttp: false },
    validation: { nowMs: Date.now(), ...(sign ? { verifyKey: c.key.verifyKey } : {}) },
  };
  const result = (await runTask(task, { ageKey: { kind: 'inline', bytes: Buffer.from(c.age.identity, 'utf8') } })) as LoadResult;
  return { outcome: result.ok ? result.outcome : result.code, result };
}
