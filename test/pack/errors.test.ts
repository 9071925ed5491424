/**
 * Every bad flag, missing flag and bad payload: exit code 2, a message that says what is wrong,
 * nothing on stdout, and never a value from the payload or the arguments echoed back.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SECRET, makeAgeKey, runInProcess, writeFile } from './helpers.js';
import { tempDir } from '../kit/index.js';

interface Case {
  readonly name: string;
  /** Built from the fixture paths; `base` is a complete, valid argument list. */
  readonly argv: (f: { base: string[]; payload: (content: string | Uint8Array) => string; recipient: string }) => string[];
  readonly message: RegExp;
  readonly usage?: boolean;
}

/** Replace the value of `flag` in argv (or append it). */
function set(argv: string[], flag: string, value: string): string[] {
  const i = argv.indexOf(flag);
  return i < 0 ? [...argv, flag, value] : [...argv.slice(0, i + 1), value, ...argv.slice(i + 2)];
}
function drop(argv: string[], flag: string): string[] {
  const i = argv.indexOf(flag);
  return [...argv.slice(0, i), ...argv.slice(i + 2)];
}

const CASES: Case[] = [
  { name: 'no flags at all', argv: () => [], message: /missing required flags --payload, --recipient, --identity, --environment/, usage: true },
  { name: 'missing --recipient', argv: ({ base }) => drop(base, '--recipient'), message: /missing required flag --recipient$/m, usage: true },
  { name: 'missing --environment', argv: ({ base }) => drop(base, '--environment'), message: /missing required flag --environment/ },
  { name: 'unknown flag', argv: ({ base }) => [...base, '--frobnicate'], message: /unknown flag --frobnicate/, usage: true },
  { name: 'unknown flag carrying a value', argv: ({ base }) => [...base, `--token=${SECRET}`], message: /unknown flag --token$/m, usage: true },
  { name: 'unknown short flag', argv: ({ base }) => [...base, '-x'], message: /unknown flag -x/ },
  { name: 'stray positional (a pasted value)', argv: ({ base }) => [...base, SECRET], message: /unexpected argument/, usage: true },
  { name: 'flag without its value', argv: ({ base }) => [...base, '--revision'], message: /--revision.*argument missing/ },
  { name: 'flag value swallowed by the next flag', argv: ({ base }) => ['--out', ...base], message: /--out.*ambiguous/ },
  { name: 'value given to --armor', argv: ({ base }) => [...base, '--armor=yes'], message: /--armor.*does not take an argument/ },
  { name: 'repeated --identity', argv: ({ base }) => [...base, '--identity', SECRET], message: /--identity given more than once/ },
  {
    name: 'recipient not age1',
    argv: ({ base }) => set(base, '--recipient', `ssh-ed25519 ${SECRET}`),
    message: /--recipient #1 is not an age X25519 recipient/,
  },
  { name: 'second recipient bad', argv: ({ base }) => [...base, '--recipient', `age1${SECRET}`], message: /--recipient #2 is not an age X25519 recipient/ },
  {
    name: 'age secret key given as recipient',
    argv: ({ base }) => set(base, '--recipient', `AGE-SECRET-KEY-1${SECRET.toUpperCase()}`),
    message: /--recipient #1 is an age secret key; pass its public recipient/,
  },
  {
    name: 'recipient with a broken checksum',
    argv: ({ base, recipient }) => set(base, '--recipient', recipient.slice(0, -1) + (recipient.endsWith('q') ? 'p' : 'q')),
    message: /--recipient #1 is not a valid age recipient \(bad checksum/,
  },
  { name: 'empty --identity', argv: ({ base }) => set(base, '--identity', ''), message: /--identity must be non-empty/ },
  {
    name: 'newline in --environment',
    argv: ({ base }) => set(base, '--environment', 'prod\nx'),
    message: /--environment must be non-empty, without control characters/,
  },
  {
    name: 'C1 control character (NEL) in --revision',
    argv: ({ base }) => [...base, '--revision', 'r1\u0085x'],
    message: /--revision must be non-empty, without control characters/,
  },
  { name: 'spaces around --revision', argv: ({ base }) => [...base, '--revision', ' r1 '], message: /--revision must be/ },
  { name: '--ttl 0', argv: ({ base }) => [...base, '--ttl', '0'], message: /--ttl must be a positive whole number of seconds/ },
  { name: '--ttl negative', argv: ({ base }) => [...base, '--ttl=-5'], message: /--ttl must be a positive whole number/ },
  { name: '--ttl fractional', argv: ({ base }) => [...base, '--ttl', '1.5'], message: /--ttl must be a positive whole number/ },
  { name: '--ttl not a number', argv: ({ base }) => [...base, '--ttl', '5m'], message: /--ttl must be a positive whole number/ },
  { name: '--ttl beyond the date range', argv: ({ base }) => [...base, '--ttl', '9007199254740991'], message: /--ttl puts expiresAt beyond/ },
  { name: '--packed-at free text', argv: ({ base }) => [...base, '--packed-at', 'yesterday'], message: /--packed-at must be an ISO-8601 time with a zone/ },
  { name: '--packed-at without zone', argv: ({ base }) => [...base, '--packed-at', '2025-01-01T00:00:00'], message: /--packed-at must be an ISO-8601/ },
  { name: '--packed-at impossible date', argv: ({ base }) => [...base, '--packed-at', '2025-13-45T00:00:00Z'], message: /--packed-at must be/ },
  {
    name: '--packed-at more than 5 minutes in the future (agents refuse it as clock_skew)',
    argv: ({ base }) => [...base, '--packed-at', '2036-01-01T00:00:00Z'],
    message: /--packed-at 2036-01-01T00:00:00\.000Z is more than 5 minutes in the future: .*pass --allow-future-packed-at/,
  },
  {
    name: '--packed-at Feb 30 (the agent refuses it too)',
    argv: ({ base }) => [...base, '--packed-at', '2025-02-30T00:00:00Z'],
    message: /--packed-at must be/,
  },
  {
    name: 'missing payload file',
    argv: ({ base }) => set(base, '--payload', '/nonexistent/p.json'),
    message: /cannot read --payload file \/nonexistent\/p\.json: no such file/,
  },
  {
    name: '--revoke-from with pack flags',
    argv: ({ base }) => ['--revoke-from', 'a.json', ...base],
    message: /--revoke-from takes only --out; remove --recipient, --payload/,
  },
  // Payload shape (SPEC §2.1). Each payload holds the secret marker, which must not be echoed.
  {
    name: 'payload: invalid JSON',
    argv: ({ base, payload }) => set(base, '--payload', payload(`{"app": {"K": "${SECRET}" oops}}`)),
    message: /payload is not valid JSON \(line 1, column \d+\)$/m,
  },
  {
    name: 'payload: invalid JSON on a later line',
    argv: ({ base, payload }) => set(base, '--payload', payload(`{\n  "K": "${SECRET}" oops\n}`)),
    message: /payload is not valid JSON \(line 2, column 36\)/,
  },
  // V8 reports no position for an unexpected token, only a quote of the input: nothing to show.
  { name: 'payload: unquoted value', argv: ({ base, payload }) => set(base, '--payload', payload(`{"K": ${SECRET}}`)), message: /payload is not valid JSON$/m },
  { name: 'payload: truncated JSON', argv: ({ base, payload }) => set(base, '--payload', payload(`{"K": "${SECRET}"`)), message: /payload is not valid JSON/ },
  { name: 'payload: empty file', argv: ({ base, payload }) => set(base, '--payload', payload('')), message: /payload is not valid JSON/ },
  {
    name: 'payload: top-level array',
    argv: ({ base, payload }) => set(base, '--payload', payload(`["${SECRET}"]`)),
    message: /payload must be a JSON object .*\(found an array\)/,
  },
  {
    name: 'payload: top-level string',
    argv: ({ base, payload }) => set(base, '--payload', payload(`"${SECRET}"`)),
    message: /payload must be a JSON object .*\(found a string\)/,
  },
  { name: 'payload: null', argv: ({ base, payload }) => set(base, '--payload', payload('null')), message: /\(found null\)/ },
  {
    name: 'payload: a key written twice in a namespace (escaped the second time)',
    argv: ({ base, payload }) => set(base, '--payload', payload(`{"app":{"K":"${SECRET}","\\u004b":"other"}}`)),
    message: /payload names "K" more than once in namespace "app"; every key and namespace must be unique/,
  },
  {
    name: 'payload: a namespace written twice',
    argv: ({ base, payload }) => set(base, '--payload', payload(`{"app":{"K":"${SECRET}"},"app":{"L":"x"}}`)),
    message: /payload names "app" more than once; every key and namespace must be unique/,
  },
  {
    name: 'payload: number leaf',
    argv: ({ base, payload }) => set(base, '--payload', payload(`{"app":{"K":"${SECRET}","PORT":5432}}`)),
    message: /payload key "app" \/ "PORT" must be a string \(found a number\)/,
  },
  {
    name: 'payload: boolean flat value',
    argv: ({ base, payload }) => set(base, '--payload', payload(`{"K":"${SECRET}","DEBUG":true}`)),
    message: /payload key "DEBUG" must be a namespace object or a string \(found a boolean\)/,
  },
  {
    name: 'payload: nested too deep',
    argv: ({ base, payload }) => set(base, '--payload', payload(`{"app":{"db":{"PASSWORD":"${SECRET}"}}}`)),
    message: /payload key "app" \/ "db" must be a string \(found an object: payloads nest at most one level\)/,
  },
  {
    name: 'payload: array namespace',
    argv: ({ base, payload }) => set(base, '--payload', payload(`{"app":["${SECRET}"]}`)),
    message: /payload key "app" must be a namespace object or a string \(found an array\)/,
  },
  {
    name: 'payload: null leaf',
    argv: ({ base, payload }) => set(base, '--payload', payload(`{"app":{"K":null}}`)),
    message: /payload key "app" \/ "K" must be a string \(found null\)/,
  },
  {
    name: 'payload: flat and namespaces mixed',
    argv: ({ base, payload }) => set(base, '--payload', payload(`{"K":"${SECRET}","app":{"X":"${SECRET}"}}`)),
    message: /payload mixes flat keys and namespaces .*"K" is a string, "app" is a namespace/,
  },
  {
    name: 'payload: key name with a newline is quoted',
    argv: ({ base, payload }) => set(base, '--payload', payload(`{"a\\nb":1}`)),
    message: /payload key "a\\nb" must be/,
  },
  {
    name: 'payload: invalid UTF-8',
    argv: ({ base, payload }) => set(base, '--payload', payload(Buffer.concat([Buffer.from(`{"K":"${SECRET}`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]))),
    message: /payload is not valid UTF-8/,
  },
];

for (const c of CASES) {
  test(`refused with exit 2: ${c.name}`, async (t) => {
    const dir = tempDir(t);
    const key = await makeAgeKey(dir);
    let n = 0;
    const payload = (content: string | Uint8Array): string => writeFile(dir, `payload-${n++}.json`, content);
    const base = ['--payload', payload('{"app":{"A":"1"}}'), '--recipient', key.recipient, '--identity', 'api', '--environment', 'prod'];
    const r = await runInProcess(c.argv({ base, payload, recipient: key.recipient }));
    assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert.equal(r.stdout, '', 'nothing on stdout');
    assert.match(r.stderr, /^clef-agent pack: /);
    assert.match(r.stderr, c.message);
    assert.ok(!r.stderr.includes(SECRET), 'the secret marker is not echoed');
    assert.ok(!r.stderr.toUpperCase().includes(SECRET.toUpperCase()), 'not even upper-cased');
    if (c.usage === true) assert.match(r.stderr, /Usage: clef-agent pack --payload/);
  });
}

test('--help prints the usage on stdout and exits 0', async () => {
  for (const flag of ['--help', '-h']) {
    const r = await runInProcess([flag]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: clef-agent pack /);
    assert.match(r.stdout, /--sign-key <file>/);
    assert.equal(r.stderr, '');
  }
});
