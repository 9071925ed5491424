/**
 * SPEC §5 token gate and §5.1 "bearer token … Missing/wrong → 401", against the real agent: every
 * malformed or wrong credential gets the same 401 body (it never says which part was wrong), and
 * the scheme name is case-insensitive (RFC 7235). The constant-time comparison itself is checked
 * structurally in test/unit/http-auth.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { samplePayload } from '../helpers/artifacts.js';
import { assertErrorBody } from '../kit/index.js';
import { type FileAgent, SECRET_ROUTES, startFileAgent, TOKEN } from '../helpers/http-fixtures.js';

const PAYLOAD = samplePayload('AUTH');

describe('§5 / §5.1 bearer token', { timeout: 60_000 }, () => {
  let fa: FileAgent;
  let reference: { body: string; headers: Record<string, unknown> };

  before(async () => {
    fa = await startFileAgent({ payload: PAYLOAD });
    const r = await fa.agent.request('/v1/secrets', { token: '' });
    reference = { body: r.body, headers: r.headers };
  });
  after(async () => {
    await fa?.close();
  });

  const withAuth = (authorization: string | null, path = '/v1/secrets') =>
    fa.agent.request(path, { token: '', headers: authorization === null ? {} : { authorization } });

  /** A refused credential: 401, the generic body, identical for every kind of failure. */
  async function refused(authorization: string | null, path = '/v1/secrets'): Promise<void> {
    const r = await withAuth(authorization, path);
    assertErrorBody(r, 401, 'unauthorized');
    assert.equal(r.body, reference.body, `same 401 body for ${JSON.stringify(authorization)}`);
    assert.equal(r.headers['content-length'], reference.headers['content-length']);
    assert.match(String(r.headers['www-authenticate']), /^Bearer/i);
    assert.ok(!r.body.includes(TOKEN.slice(0, 8)), 'the 401 never echoes the token');
  }

  it('§5.1 missing token → 401 unauthorized', async () => {
    await refused(null);
  });

  it('§5.1 wrong token of the same length → 401', async () => {
    await refused(`Bearer ${'0'.repeat(TOKEN.length)}`);
    await refused(`Bearer ${TOKEN.slice(0, -1)}${TOKEN.endsWith('f') ? 'e' : 'f'}`);
  });

  it('§5.1 wrong token length: shorter (prefix of the real token) → 401', async () => {
    await refused(`Bearer ${TOKEN.slice(0, -1)}`);
    await refused(`Bearer ${TOKEN.slice(0, 1)}`);
  });

  it('§5.1 wrong token length: longer (real token plus a suffix) → 401', async () => {
    await refused(`Bearer ${TOKEN}0`);
    await refused(`Bearer ${TOKEN}${TOKEN}`);
    await refused(`Bearer ${'x'.repeat(4096)}`);
  });

  it('§5.1 empty or scheme-only credentials → 401', async () => {
    await refused('');
    await refused('Bearer');
    await refused('Bearer ');
  });

  it('§5 Basic scheme → 401 (even carrying the token)', async () => {
    await refused(`Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}`);
    await refused(`Basic ${TOKEN}`);
  });

  it('§5 other schemes and malformed headers → 401', async () => {
    await refused(`Token ${TOKEN}`);
    await refused(TOKEN);
    await refused(`Bearer ${TOKEN} extra`);
    await refused(`Bearer ${TOKEN},`);
    await refused(`Bearer${TOKEN}`);
    await refused(`Bearer "${TOKEN}"`);
  });

  it('§5 the token in the query string is not a credential → 401', async () => {
    await refused(null, `/v1/secrets?token=${TOKEN}`);
    await refused(null, `/v1/secrets?access_token=${TOKEN}`);
  });

  it('§5 bearer scheme name is case-insensitive: "Bearer", "bearer", "BEARER", "bEaReR" → 200', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const r = await withAuth(`${scheme} ${TOKEN}`);
      assert.equal(r.status, 200, scheme);
      assert.deepEqual(r.json(), PAYLOAD);
    }
  });

  it('§5 the token itself is case-sensitive → 401 for an upper-cased token', async () => {
    await refused(`Bearer ${TOKEN.toUpperCase()}`);
  });

  for (const path of SECRET_ROUTES) {
    it(`§5 token required on ${path}: missing and wrong → 401 (GET and HEAD); right → 200`, async () => {
      await refused(null, path);
      await refused('Bearer nope', path);
      const head = await fa.agent.request(path, { method: 'HEAD', token: 'nope' });
      assert.equal(head.status, 401);
      assert.equal(head.body, '');
      assert.equal((await fa.agent.request(path)).status, 200);
    });
  }

  it('§5.1 the 401 body is the same for missing, wrong, shorter, longer and Basic credentials', async () => {
    const variants = [null, 'Bearer x', `Bearer ${TOKEN.slice(1)}`, `Bearer ${TOKEN}1`, 'Basic Zm9vOmJhcg==', 'Bearer'];
    const bodies = new Set<string>();
    for (const v of variants) bodies.add((await withAuth(v)).body);
    assert.equal(bodies.size, 1, [...bodies].join(' | '));
  });
});
