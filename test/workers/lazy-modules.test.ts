/**
 * Issue 14 (footprint): a worker loads the HTTP stack (ky, undici) and the AWS SDK only for the
 * configurations that use them. A real load task runs in a child process whose module loader
 * records every module resolved; an age artifact from a file must load neither, over HTTP only the
 * HTTP stack, and a KMS artifact the SDK (and not the HTTP stack, which KMS does not use).
 * Issue 16 (cold start): a binary age file for an X25519 key does not load age-encryption either
 * (workers/decrypt/age-header.ts unwraps it); ASCII armor does (its decoder is the library's).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { LoadTask } from '../../common/protocol.js';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { KmsServer } from '../../emulators/kms-server.js';
import { ageKeyPair, buildArtifact, samplePayload, type AgeKeyPair } from '../helpers/artifacts.js';
import { kmsArtifact } from '../helpers/kms-artifacts.js';
import { suiteTempDirs } from '../kit/index.js';

const run = promisify(execFile);
const probe = fileURLToPath(new URL('../helpers/worker-modules-probe.js', import.meta.url));
const dir = suiteTempDirs('clef-lazy-modules-').make();
const HTTP_STACK = ['/node_modules/ky/', '/node_modules/undici/'];
const AWS_SDK = ['/node_modules/@aws-sdk/', '/node_modules/@smithy/'];
const AGE_LIBRARY = ['/node_modules/age-encryption/'];

let age: AgeKeyPair;
let seq = 0;

/** Runs `task` in a fresh process; the load's outcome and the module URLs it resolved. */
async function traced(task: LoadTask, env: Record<string, string> = {}): Promise<{ outcome: string; modules: string }> {
  const trace = join(dir, `trace-${seq++}.txt`);
  writeFileSync(trace, '');
  const { stdout } = await run(process.execPath, [probe, trace, JSON.stringify({ task, ageKey: age.identity })], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
  });
  const [head = '', modules = ''] = stdout.split('MODULES:\n');
  return { outcome: head.replace('OUTCOME: ', '').trim(), modules };
}

const loaded = (modules: string, parts: readonly string[]): string[] => parts.filter((p) => modules.includes(p));

function loadTask(source: LoadTask['source']): LoadTask {
  return {
    type: 'load',
    mode: 'cached',
    source,
    fetch: { timeoutMs: 5_000, maxBytes: 4 << 20, retries: 0, allowHttp: true },
    validation: { nowMs: Date.now() },
  };
}

describe('workers load the HTTP stack and the AWS SDK only when the configuration needs them', () => {
  let server: ArtifactServer;
  let kms: KmsServer;
  before(async () => {
    age = await ageKeyPair();
    server = await new ArtifactServer().start();
    kms = await new KmsServer().start();
  });
  after(async () => {
    await server.close();
    await kms.close();
  });

  it('an age artifact from a file: neither, nor age-encryption', async () => {
    const path = join(dir, 'age.json');
    writeFileSync(path, JSON.stringify(await buildArtifact({ recipient: age.recipient, payload: samplePayload() })));
    const r = await traced(loadTask({ kind: 'file', path }));
    assert.equal(r.outcome, 'loaded');
    // The identity's bech32 decoder: proof the trace saw the worker load its modules.
    assert.ok(r.modules.includes('/node_modules/@scure/base/'), 'the trace saw the worker load its modules');
    assert.deepEqual(loaded(r.modules, [...HTTP_STACK, ...AWS_SDK, ...AGE_LIBRARY]), []);
  });

  it('an ASCII-armored age artifact: age-encryption, for its armor decoder', async () => {
    const path = join(dir, 'age-armored.json');
    writeFileSync(path, JSON.stringify(await buildArtifact({ recipient: age.recipient, payload: samplePayload(), armor: true })));
    const r = await traced(loadTask({ kind: 'file', path }));
    assert.equal(r.outcome, 'loaded');
    assert.deepEqual(loaded(r.modules, AGE_LIBRARY), AGE_LIBRARY);
  });

  it('an age artifact over HTTP: the HTTP stack, not the AWS SDK', async () => {
    server.body = JSON.stringify(await buildArtifact({ recipient: age.recipient, payload: samplePayload() }));
    const r = await traced(loadTask({ kind: 'http', url: server.url() }));
    assert.equal(r.outcome, 'loaded');
    assert.deepEqual(loaded(r.modules, HTTP_STACK), HTTP_STACK);
    assert.deepEqual(loaded(r.modules, [...AWS_SDK, ...AGE_LIBRARY]), []);
  });

  it('a KMS artifact from a file: the KMS client, not the HTTP stack', async () => {
    const path = join(dir, 'kms.json');
    writeFileSync(path, JSON.stringify(await kmsArtifact(kms, { keyId: kms.createKey(), payload: samplePayload() })));
    const r = await traced(loadTask({ kind: 'file', path }), kms.env());
    assert.equal(r.outcome, 'loaded');
    assert.ok(r.modules.includes('/node_modules/@aws-sdk/client-kms/'), 'the KMS client is loaded for a KMS artifact');
    assert.deepEqual(loaded(r.modules, HTTP_STACK), []);
  });
});
