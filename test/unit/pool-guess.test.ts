/**
 * The pool guessed from the raw environment before the configuration is validated
 * (src/pool-guess.ts, src/cli/early-start.ts): for every environment the configuration accepts,
 * the guess starts the workers the validated options start (so `WorkerPool.adopt` keeps them), or
 * nothing where starting early gains nothing; values written in a form the guess does not read
 * make a different guess, which `adopt` replaces (test/unit/pool-adopt.test.ts).
 */
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { poolOptions, sameWorkers } from '../../src/pool.js';
import { guessPoolOptions } from '../../src/pool-guess.js';
import { cleanup, env, fourCpus, load, tempDir } from '../config/helpers.js';

after(cleanup);

const IDENTITY = 'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQSZQ5N0';
const CWD = '/work/app';

function keyFile(): string {
  const file = join(tempDir(), 'age.key');
  writeFileSync(file, `${IDENTITY}\n`);
  chmodSync(file, 0o600);
  return file;
}

describe('guessPoolOptions: the pool the raw environment suggests', () => {
  test('a cached-mode daemon starts no worker before its first task, so nothing is guessed', () => {
    assert.equal(guessPoolOptions(env(), CWD, { lambda: false }), undefined);
    assert.equal(guessPoolOptions(env({ CLEF_AGENT_CACHE_TTL: '300' }), CWD, { lambda: false }), undefined);
  });

  test('Lambda and JIT mode: workers start at once, from the raw values', () => {
    const file = keyFile();
    const lambda = guessPoolOptions(env({ CLEF_AGENT_AGE_KEY_FILE: file, CLEF_AGENT_WORKERS: '3', CLEF_AGENT_MAX_KEYS: '50' }), CWD, { lambda: true });
    assert.deepEqual(lambda, { size: 3, init: { ageKey: { kind: 'file', path: file }, maxKeys: 50 }, maxQueue: 0, idleExitMs: undefined });
    const jit = guessPoolOptions(env({ CLEF_AGENT_CACHE_TTL: '0', CLEF_AGENT_AGE_KEY: IDENTITY }), CWD, { lambda: false, cpu: fourCpus() });
    assert.equal(jit?.size, 3, 'the default worker count: CPUs − 1');
    const key = jit?.init.ageKey;
    assert.ok(key?.kind === 'inline');
    assert.equal(Buffer.from(key.bytes).toString('utf8'), IDENTITY);
    assert.equal(key.bytes.buffer.byteLength, key.bytes.byteLength, 'a buffer of its own, not a slice of the shared pool');
  });

  test('a relative key file is resolved against the working directory, as the configuration does', () => {
    const guess = guessPoolOptions(env({ CLEF_AGENT_AGE_KEY_FILE: 'keys/age.key' }), CWD, { lambda: true });
    assert.deepEqual(guess?.init.ageKey, { kind: 'file', path: '/work/app/keys/age.key' });
  });

  test('what the configuration refuses gets no key in the guess (both key variables, an empty one)', () => {
    for (const extra of [{ CLEF_AGENT_AGE_KEY: IDENTITY, CLEF_AGENT_AGE_KEY_FILE: '/k' }, { CLEF_AGENT_AGE_KEY: '' }, { CLEF_AGENT_AGE_KEY_FILE: '' }]) {
      assert.equal(guessPoolOptions(env(extra), CWD, { lambda: true })?.init.ageKey, undefined, JSON.stringify(Object.keys(extra)));
    }
  });

  test('every valid environment: the guess starts the workers the validated options start', () => {
    const file = keyFile();
    const cpu = fourCpus();
    const count = (max: number): fc.Arbitrary<string | undefined> => fc.option(fc.integer({ min: 1, max }).map(String), { nil: undefined });
    fc.assert(
      fc.property(
        fc.record({
          lambda: fc.boolean(),
          ttl: fc.constantFrom(undefined, '0', '60', '300'),
          workers: count(64),
          maxKeys: count(10_000_000),
          key: fc.constantFrom<'inline' | 'file' | 'none'>('inline', 'file', 'none'),
        }),
        ({ lambda, ttl, workers, maxKeys, key }) => {
          const e = env({
            CLEF_AGENT_CACHE_TTL: ttl,
            CLEF_AGENT_WORKERS: workers,
            CLEF_AGENT_MAX_KEYS: maxKeys,
            CLEF_AGENT_AGE_KEY: key === 'inline' ? IDENTITY : undefined,
            CLEF_AGENT_AGE_KEY_FILE: key === 'file' ? file : undefined,
          });
          const guess = guessPoolOptions(e, CWD, { lambda, cpu });
          const validated = poolOptions(load({ ...e }, { cpu }), { lambda });
          if (guess === undefined) {
            assert.ok(!lambda && ttl !== '0', 'only a cached-mode daemon is not guessed');
            assert.notEqual(validated.idleExitMs, undefined, 'and its validated pool lets idle workers go: no worker starts before a task');
          } else {
            assert.ok(sameWorkers(guess, validated), `${JSON.stringify({ lambda, ttl, workers, maxKeys, key })}: the guess differs`);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  test('values in a form the guess does not read make a different guess (the configuration still decides)', () => {
    const cpu = fourCpus();
    const e = env({ CLEF_AGENT_WORKERS: '02', CLEF_AGENT_CACHE_TTL: '0' });
    const guess = guessPoolOptions(e, CWD, { lambda: false, cpu });
    const validated = poolOptions(load({ ...e }, { cpu }), { lambda: false });
    assert.equal(validated.size, 2);
    assert.equal(guess?.size, 3, 'the guess falls back to the default');
    assert.ok(guess !== undefined && !sameWorkers(guess, validated));
  });
});
