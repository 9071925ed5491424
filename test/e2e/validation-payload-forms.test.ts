/**
 * SPEC §2.1 payload forms and §2 ciphertext forms, served through the real process: flat, empty,
 * `__proto__`/`constructor` keys, and artifacts whose age file was made by the reference `age` CLI
 * (binary and ASCII-armored) with a key file from `age-keygen` (comment lines included).
 */
import { after, before, describe, it } from 'node:test';
import { suiteTempDirs } from '../kit/index.js';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentProcess } from '../kit/index.js';
import { newToken, startPolled } from '../helpers/scenario.js';
import { ArtifactServer } from '../../emulators/artifact-server.js';

describe('§2.1 payload forms', { concurrency: true }, () => {
  it('§2.1 flat payload: served as is, keys are bare names', { timeout: 30_000 }, async (t) => {
    const payload = { API_KEY: 'flat-api', DATABASE_URL: 'postgres://flat', B_KEY: 'b' };
    const p = await startPolled({ payload });
    t.after(() => p.close());
    assert.deepEqual((await p.get('/v1/secrets')).json(), payload);
    assert.deepEqual((await p.get('/v1/keys')).json(), ['API_KEY', 'B_KEY', 'DATABASE_URL']);
    assert.deepEqual((await p.get('/v1/secrets/DATABASE_URL')).json(), { key: 'DATABASE_URL', value: 'postgres://flat' });
    assert.equal((await p.get('/v1/secrets/x/API_KEY')).status, 404);
  });

  it('§2.1 {}: an empty payload is valid: /v1/secrets {} and /v1/keys []', { timeout: 30_000 }, async (t) => {
    const p = await startPolled({ payload: {} });
    t.after(() => p.close());
    assert.equal((await p.get('/v1/ready')).status, 200);
    const s = await p.get('/v1/secrets');
    assert.equal(s.status, 200);
    assert.deepEqual(s.json(), {});
    const k = await p.get('/v1/keys');
    assert.equal(k.status, 200);
    assert.deepEqual(k.json(), []);
    assert.equal((await p.get('/v1/secrets/ANY')).status, 404);
  });

  it('§2.1: __proto__ and constructor keys (nested) are ordinary keys', { timeout: 30_000 }, async (t) => {
    const text =
      '{"__proto__":{"constructor":"proto-ctor","polluted":"yes"},"constructor":{"prototype":"ctor-proto"},"app":{"toString":"ts","hasOwnProperty":"hop"}}';
    const p = await startPolled({ payload: text });
    t.after(() => p.close());
    const s = await p.get('/v1/secrets');
    assert.equal(s.status, 200);
    // Compare as text-level JSON: parse with a reviver-free Map walk so __proto__ stays a key.
    const parsed = JSON.parse(s.body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), ['__proto__', 'constructor', 'app']);
    assert.deepEqual(Object.getOwnPropertyDescriptor(parsed, '__proto__')?.value, { constructor: 'proto-ctor', polluted: 'yes' });
    assert.deepEqual(
      (await p.get('/v1/keys')).json(),
      ['__proto____constructor', '__proto____polluted', 'app__hasOwnProperty', 'app__toString', 'constructor__prototype'].sort(),
    );
    assert.deepEqual((await p.get('/v1/secrets/__proto__/polluted')).json(), { key: '__proto____polluted', value: 'yes' });
    assert.deepEqual((await p.get('/v1/secrets/constructor__prototype')).json(), { key: 'constructor__prototype', value: 'ctor-proto' });
    assert.deepEqual((await p.get('/v1/secrets/toString')).json(), { key: 'app__toString', value: 'ts' });
    assert.deepEqual((await p.get('/v1/secrets/hasOwnProperty')).json(), { key: 'app__hasOwnProperty', value: 'hop' });
    // Bare `constructor` is the key in the __proto__ namespace (unique), not Object.prototype.constructor.
    assert.deepEqual((await p.get('/v1/secrets/constructor')).json(), { key: '__proto____constructor', value: 'proto-ctor' });
    assert.equal((await p.get('/v1/secrets/valueOf')).status, 404);
  });

  it('§2.1: __proto__ and constructor as flat keys', { timeout: 30_000 }, async (t) => {
    const p = await startPolled({ payload: '{"__proto__":"p-value","constructor":"c-value"}' });
    t.after(() => p.close());
    assert.deepEqual((await p.get('/v1/keys')).json(), ['__proto__', 'constructor']);
    assert.deepEqual((await p.get('/v1/secrets/__proto__')).json(), { key: '__proto__', value: 'p-value' });
    assert.equal((await p.get('/v1/secrets/constructor')).body, '{"key":"constructor","value":"c-value"}');
    const s = await p.get('/v1/secrets');
    assert.equal(s.body, '{"__proto__":"p-value","constructor":"c-value"}');
  });
});

/** Values that exercise JSON escaping and UTF-8 end to end. */
const REF_PAYLOAD = {
  app: {
    DATABASE_URL: 'postgres://ref:p%40ss@db.internal:5432/app?sslmode=require',
    MULTILINE: '-----BEGIN KEY-----\nline two\r\nline three\n',
    QUOTES: 'she said "hi" \\ back\\slash \t tab',
    UNICODE: 'héllo wörld — 秘密 🔑 \u2028 sep',
    EMPTY: '',
  },
  payments: { STRIPE_KEY: 'sk_live_' + 'x'.repeat(300) },
};

describe('§2 reference age CLI artifacts', () => {
  const dir = suiteTempDirs('clef-ref-age-').make();
  const keyFile = join(dir, 'identity.txt');
  const plainFile = join(dir, 'payload.json');
  let recipient = '';
  const server = new ArtifactServer();
  const agents: AgentProcess[] = [];

  before(async () => {
    execFileSync('age-keygen', ['-o', keyFile], { stdio: 'pipe' });
    recipient = execFileSync('age-keygen', ['-y', keyFile], { encoding: 'utf8' }).trim();
    writeFileSync(plainFile, JSON.stringify(REF_PAYLOAD));
    await server.start();
  });
  after(async () => {
    for (const a of agents) await a.stop();
    await server.close();
  });

  /** SPEC §2 assembled by hand: hash over the base64 text's UTF-8 bytes. */
  function handArtifact(ageFile: Buffer): string {
    const ciphertext = ageFile.toString('base64');
    return JSON.stringify({
      version: 1,
      identity: 'ref',
      environment: 'test',
      packedAt: new Date().toISOString(),
      revision: 'ref-cli',
      ciphertextHash: createHash('sha256').update(ciphertext, 'utf8').digest('hex'),
      ciphertext,
    });
  }

  async function serveAndCheck(ageFile: Buffer, path: string): Promise<void> {
    const text = readFileSync(keyFile, 'utf8');
    assert.match(text, /^# created: /m, 'age-keygen writes comment lines');
    assert.match(text, /^# public key: age1/m);
    server.body = handArtifact(ageFile);
    const agent = new AgentProcess({
      CLEF_AGENT_SOURCE: server.url(path),
      CLEF_AGENT_AGE_KEY_FILE: keyFile,
      CLEF_AGENT_TOKEN: newToken(),
      CLEF_AGENT_WORKERS: '1',
    });
    agents.push(agent);
    await agent.ready();
    const all = await agent.request('/v1/secrets');
    assert.equal(all.status, 200, all.body);
    assert.deepEqual(all.json(), REF_PAYLOAD);
    for (const [ns, keys] of Object.entries(REF_PAYLOAD)) {
      for (const [k, v] of Object.entries(keys)) {
        const plain = await agent.request(`/v1/secrets/${ns}/${k}`, { headers: { accept: 'text/plain' } });
        assert.equal(plain.status, 200);
        assert.match(String(plain.headers['content-type']), /^text\/plain/);
        assert.equal(plain.body, v, `${ns}/${k} byte for byte`);
        assert.deepEqual((await agent.request(`/v1/secrets/${ns}__${k}`)).json(), { key: `${ns}__${k}`, value: v });
      }
    }
  }

  it('§2: a binary age file made by `age -r` decrypts with the age-keygen key file and is served byte for byte', { timeout: 30_000 }, async () => {
    const bin = execFileSync('age', ['-r', recipient, plainFile]);
    assert.equal(bin.subarray(0, 21).toString('latin1'), 'age-encryption.org/v1');
    await serveAndCheck(bin, '/binary.json');
  });

  it('§2: an ASCII-armored age file made by `age -a -r` decrypts and is served byte for byte', { timeout: 30_000 }, async () => {
    const armored = execFileSync('age', ['-a', '-r', recipient, plainFile]);
    assert.match(armored.toString('utf8'), /^-----BEGIN AGE ENCRYPTED FILE-----/);
    await serveAndCheck(armored, '/armored.json');
  });
});
