import assert from 'node:assert/strict';
import type { HttpAnswer } from './http.js';

/** The agent's error answer (SPEC §5): this status, JSON, exactly `{"error": <non-empty string>, "reason": <reason>}`. */
export function assertErrorBody(r: HttpAnswer, status: number, reason: string): void {
  assert.equal(r.status, status, `expected ${status} ${reason}, got ${r.status} ${r.body}`);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  const body = r.json<Record<string, unknown>>();
  assert.deepEqual(Object.keys(body).sort(), ['error', 'reason'], `error body keys: ${r.body}`);
  assert.equal(typeof body['error'], 'string');
  assert.ok((body['error'] as string).length > 0);
  assert.equal(body['reason'], reason, r.body);
}
