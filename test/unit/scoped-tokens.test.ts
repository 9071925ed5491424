/**
 * SPEC §10.3 / §10.5 in-process: the token check with scoped tokens (constant time over the whole
 * list, whatever is presented; the principal it returns; an atomic swap on reload), scoped bodies in
 * cached mode (built once per snapshot, byte-identical to what a JIT worker builds for the scope),
 * and POST /v1/refresh's answer and rate limit.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, it } from 'node:test';
import type { LoadResult } from '../../common/protocol.js';
import type * as AuthModule from '../../src/http/auth.js';
import { authUnderTimingSpy } from '../helpers/timing-spy.js';
import type { ScopedToken } from '../../src/config/scoped-tokens.js';
import { ApiError } from '../../src/errors.js';
import { OnDemandRefresh } from '../../src/refresh/on-demand.js';
import type { RefreshStatus } from '../../src/refresh/sink.js';
import { Snapshot } from '../../src/serving/snapshot.js';
import { buildSnapshot, parsePayload } from '../../workers/payload.js';
import { runTask } from '../../workers/index.js';
import { capturedLog } from './refresh-rig.js';
import { ageKeyPair } from '../helpers/artifacts.js';
import { Encrypter } from 'age-encryption';

const MAIN = 'c1ef'.repeat(16);
const WEB = 'a1'.repeat(32);
const CI = 'b2'.repeat(32);
const scoped = (name: string, token: string, namespaces: string[]): ScopedToken => ({
  name,
  sha256: createHash('sha256').update(token).digest(),
  namespaces: [...namespaces].sort(),
});

describe('§10.3 TokenGuard with scoped tokens', () => {
  let calls = 0;
  let auth: typeof AuthModule;
  const spied = authUnderTimingSpy((a, b) => {
    calls++;
    assert.equal(a.byteLength, 32);
    assert.equal(b.byteLength, 32);
  });
  before(() => {
    auth = spied.auth();
  });

  it('returns the principal: main sees all, a scoped token its namespaces and a scope id', () => {
    const g = new auth.TokenGuard(MAIN, [scoped('web', WEB, ['app']), scoped('ci', CI, ['payments', 'app'])]);
    assert.deepEqual(g.authenticate(`Bearer ${MAIN}`), { name: 'main' });
    assert.deepEqual(g.authenticate(`Bearer ${WEB}`), { name: 'web', namespaces: ['app'], scopeId: '["app"]' });
    assert.deepEqual(g.authenticate(`bearer ${CI}`), { name: 'ci', namespaces: ['app', 'payments'], scopeId: '["app","payments"]' });
    for (const wrong of [undefined, '', 'Bearer', `Bearer ${WEB.slice(1)}`, `Bearer ${createHash('sha256').update(WEB).digest('hex')}`, `Basic ${WEB}`]) {
      assert.equal(g.authenticate(wrong), undefined, String(wrong));
    }
  });

  it('compares against every token, every time: the count never depends on what was presented', () => {
    const g = new auth.TokenGuard(MAIN, [scoped('web', WEB, ['app']), scoped('ci', CI, ['payments'])]);
    for (const header of [undefined, `Bearer ${MAIN}`, `Bearer ${WEB}`, `Bearer ${CI}`, `Bearer ${'0'.repeat(64)}`, `Bearer ${'x'.repeat(5000)}`]) {
      calls = 0;
      g.authenticate(header);
      assert.equal(calls, 3, String(header).slice(0, 20));
    }
  });

  it('scoped tokens alone (no main token): only they match; an empty guard still compares once', () => {
    const g = new auth.TokenGuard(undefined, [scoped('web', WEB, ['app'])]);
    assert.equal(g.authenticate(`Bearer ${MAIN}`), undefined);
    assert.equal(g.authenticate(`Bearer ${WEB}`)?.name, 'web');
    const none = new auth.TokenGuard(undefined, []);
    calls = 0;
    assert.equal(none.authenticate(`Bearer ${WEB}`), undefined);
    assert.equal(calls, 1);
  });

  it('replace swaps the main token and the list together', () => {
    const g = new auth.TokenGuard(MAIN, [scoped('web', WEB, ['app'])]);
    g.replace(CI, [scoped('web2', WEB, ['ops'])]);
    assert.equal(g.authenticate(`Bearer ${MAIN}`), undefined);
    assert.equal(g.authenticate(`Bearer ${CI}`)?.name, 'main');
    assert.deepEqual(g.authenticate(`Bearer ${WEB}`)?.namespaces, ['ops']);
  });
});

describe('§10.3 scoped bodies: cached (main thread) and JIT (worker) agree', () => {
  const payloads: [string, string][] = [
    ['nested', JSON.stringify({ app: { B: 'b"\\n\u2028', A: 'a' }, empty: {}, payments: { API_KEY: 'p', '1': 'one' }, ops: { API_KEY: 'o' } })],
    ['flat', JSON.stringify({ API_KEY: 'x', OTHER: 'y' })],
    ['__proto__ namespace', '{"__proto__":{"K":"v"},"app":{"K":"w"}}'],
  ];
  const scopes: string[][] = [['app'], ['payments', 'app'], ['empty'], ['missing'], ['__proto__'], ['ops', 'payments']];

  for (const [label, text] of payloads) {
    it(`${label}: /v1/secrets, /v1/keys and lookups per scope`, async () => {
      const key = await ageKeyPair();
      const e = new Encrypter();
      e.addRecipient(key.recipient);
      const ageFile = await e.encrypt(text);
      const init = { ageKey: { kind: 'inline' as const, bytes: new TextEncoder().encode(key.identity) } };
      const artifact = { ciphertextHash: createHash('sha256').update(ageFile).digest('hex'), ageFile };
      const payload = parsePayload(new TextEncoder().encode(text));
      assert.ok(!('ok' in payload));
      const snap = new Snapshot({} as never, buildSnapshot(payload));
      for (const namespaces of scopes) {
        const scope = { namespaces, scopeId: JSON.stringify(namespaces) };
        const view = snap.scoped(scope);
        assert.equal(snap.scoped(scope), view, 'built once per snapshot, then reused');
        const jit = async (request: Record<string, unknown>): Promise<string> => {
          const r = await runTask({ type: 'serve', artifact, request: { ...request, namespaces } as never }, init);
          assert.ok(r.ok && 'status' in r && r.status === 200, JSON.stringify(r));
          return Buffer.from((r as { body: Uint8Array }).body).toString('utf8');
        };
        assert.equal(view.secretsBody.toString('utf8'), await jit({ route: 'secrets' }), `${label} ${namespaces.join(',')} secrets`);
        assert.equal(view.keysBody.toString('utf8'), await jit({ route: 'keys' }), `${label} ${namespaces.join(',')} keys`);
        const expected = JSON.parse(text) as Record<string, unknown>;
        const want = Object.fromEntries(
          Object.entries(expected).filter(([ns, v]) => typeof v === 'object' && namespaces.includes(ns) && Object.keys(v as object).length > 0),
        );
        assert.deepEqual(JSON.parse(view.secretsBody.toString('utf8')), want);
        for (const name of ['API_KEY', 'K', 'app__A', 'payments/API_KEY', 'OTHER']) {
          const found = view.lookup(name);
          const r = await runTask({ type: 'serve', artifact, request: { route: 'secret', name, plain: false, namespaces } }, init);
          assert.ok(r.ok && 'status' in r);
          const status = found.kind === 'found' ? 200 : found.kind === 'ambiguous' ? 409 : 404;
          assert.equal(r.status, status, `${label} ${namespaces.join(',')} ${name}`);
          if (found.kind === 'ambiguous' && r.status === 409) assert.deepEqual(r.candidates, found.candidates);
          if (found.kind === 'found' && r.status === 200) assert.equal(Buffer.from(r.body).toString('utf8'), found.entry.json.toString('utf8'));
        }
      }
      const view = snap.scoped({ namespaces: ['app'], scopeId: '["app"]' });
      snap.wipe();
      assert.ok(
        view.secretsBody.every((b) => b === 0),
        'scoped bodies are wiped with the snapshot',
      );
    });
  }
});

describe('§10.5 POST /v1/refresh (OnDemandRefresh)', () => {
  const meta = (hash: string, revision: string) => ({ ciphertextHash: hash, revision }) as RefreshStatus['meta'];

  function setup(results: LoadResult[], after: (RefreshStatus['meta'] | undefined)[]) {
    const status: RefreshStatus = { expired: false, meta: meta('h1', 'rev-1') };
    let now = 1_000_000;
    let calls = 0;
    const refresher = {
      status,
      refresh: (trigger: string) => {
        assert.equal(trigger, 'api');
        const i = calls++;
        status.meta = after[i];
        return Promise.resolve(results[i] as LoadResult);
      },
    };
    const r = new OnDemandRefresh(refresher, capturedLog().log, () => now);
    return { r, advance: (ms: number) => (now += ms), calls: () => calls };
  }

  it('answers the revision and whether it changed; at most one per 5 s, else 429 with Retry-After', async () => {
    const { r, advance, calls } = setup(
      [{ ok: true, outcome: 'unchanged' }, { ok: true, outcome: 'loaded' } as LoadResult],
      [meta('h1', 'rev-1'), meta('h2', 'rev-2')],
    );
    assert.deepEqual(await r.request('main'), { revision: 'rev-1', changed: false });
    advance(1_200);
    await assert.rejects(r.request('web'), (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 429);
      assert.equal(err.reason, 'refresh_rate_limited');
      assert.equal(err.headers?.['Retry-After'], '4');
      return true;
    });
    assert.equal(calls(), 1, 'a refused request does not refresh');
    advance(3_800);
    assert.deepEqual(await r.request('web'), { revision: 'rev-2', changed: true });
  });

  it('a failed refresh answers its error with the failure table’s reason and the failure code', async () => {
    const { r } = setup([{ ok: false, code: 'fetch_failed', message: 'connect ECONNREFUSED' }], [meta('h1', 'rev-1')]);
    await assert.rejects(r.request('main'), (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 503);
      assert.equal(err.reason, 'not_loaded');
      assert.deepEqual(JSON.parse(err.body()), { error: err.message, reason: 'not_loaded', code: 'fetch_failed' });
      return true;
    });
  });
});
