/**
 * SPEC §3 through the real CLI: the plain settings (port, id, timing, cache path, expectations,
 * allow-http, telemetry, log level, limits, workers) and unknown names. A representative invalid
 * value for each: exact message on stderr, exit 2, nothing listening.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentProcess, suiteTempDirs } from '../kit/index.js';
import { assertRefused, baseEnv, runCli } from '../helpers/config-cli.js';
import { ageKeyPair, artifactJson } from '../helpers/artifacts.js';

const TEXT_EXPECTED = 'a non-empty string of at most 256 characters without control characters';

/** [test name, changes, expected stderr lines] */
const CASES: ReadonlyArray<readonly [string, Record<string, string | null>, readonly string[]]> = [
  ['CLEF_AGENT_PORT: not an integer', { CLEF_AGENT_PORT: 'http' }, ['CLEF_AGENT_PORT: "http" is not an integer; expected an integer from 0 to 65535']],
  ['CLEF_AGENT_PORT: above 65535', { CLEF_AGENT_PORT: '70000' }, ['CLEF_AGENT_PORT: 70000 is above the maximum; expected an integer from 0 to 65535']],
  ['CLEF_AGENT_PORT: negative', { CLEF_AGENT_PORT: '-1' }, ['CLEF_AGENT_PORT: -1 is below the minimum; expected an integer from 0 to 65535']],
  [
    'CLEF_AGENT_ID: a character that is not allowed',
    { CLEF_AGENT_ID: 'agent one' },
    ['CLEF_AGENT_ID: "agent one" contains a character that is not allowed; expected 1 to 128 characters: letters, digits and . _ - : @ / + ='],
  ],
  ['CLEF_AGENT_ID: empty', { CLEF_AGENT_ID: '' }, ['CLEF_AGENT_ID: is empty; expected 1 to 128 characters: letters, digits and . _ - : @ / + =']],
  [
    'CLEF_AGENT_CACHE_TTL: between 0 and 30',
    { CLEF_AGENT_CACHE_TTL: '10' },
    ['CLEF_AGENT_CACHE_TTL: 10 is below the minimum; expected 0 (JIT mode) or an integer of at least 30 seconds'],
  ],
  [
    'CLEF_AGENT_CACHE_TTL: a duration with a unit',
    { CLEF_AGENT_CACHE_TTL: '5m' },
    ['CLEF_AGENT_CACHE_TTL: "5m" is not an integer; expected 0 (JIT mode) or an integer of at least 30 seconds'],
  ],
  [
    'CLEF_AGENT_CACHE_TTL: above 7 days',
    { CLEF_AGENT_CACHE_TTL: '604801' },
    ['CLEF_AGENT_CACHE_TTL: 604801 is above the maximum; expected 0 (JIT mode) or an integer from 30 to 604800 seconds (7 days)'],
  ],
  [
    'CLEF_AGENT_MAX_STALE: below 10',
    { CLEF_AGENT_MAX_STALE: '5' },
    ['CLEF_AGENT_MAX_STALE: 5 is below the minimum; expected an integer from 10 to 604800 seconds'],
  ],
  [
    'CLEF_AGENT_POLL_INTERVAL: below 5',
    { CLEF_AGENT_POLL_INTERVAL: '2' },
    ['CLEF_AGENT_POLL_INTERVAL: 2 is below the minimum; expected an integer from 5 to 86400 seconds'],
  ],
  [
    'CLEF_AGENT_POLL_INTERVAL: not below CLEF_AGENT_CACHE_TTL',
    { CLEF_AGENT_CACHE_TTL: '30', CLEF_AGENT_POLL_INTERVAL: '30' },
    [
      'CLEF_AGENT_POLL_INTERVAL: 30 is not below CLEF_AGENT_CACHE_TTL (30); expected an interval shorter than CLEF_AGENT_CACHE_TTL, so a refresh can happen before the cache expires',
    ],
  ],
  [
    'CLEF_AGENT_EXPECT_IDENTITY: a control character',
    { CLEF_AGENT_EXPECT_IDENTITY: 'api\n' },
    [`CLEF_AGENT_EXPECT_IDENTITY: "api\\n" contains a control character; expected ${TEXT_EXPECTED}`],
  ],
  ['CLEF_AGENT_EXPECT_ENVIRONMENT: empty', { CLEF_AGENT_EXPECT_ENVIRONMENT: '' }, [`CLEF_AGENT_EXPECT_ENVIRONMENT: is empty; expected ${TEXT_EXPECTED}`]],
  ['CLEF_AGENT_ALLOW_HTTP: not a boolean', { CLEF_AGENT_ALLOW_HTTP: 'yes' }, ['CLEF_AGENT_ALLOW_HTTP: "yes" is not a boolean; expected true, false, 1 or 0']],
  [
    'CLEF_AGENT_TELEMETRY_URL: an unsupported scheme',
    { CLEF_AGENT_TELEMETRY_URL: 'ftp://otel.example.com' },
    ['CLEF_AGENT_TELEMETRY_URL: uses the unsupported scheme "ftp:"; expected an http:// or https:// URL'],
  ],
  [
    'CLEF_AGENT_TELEMETRY_URL: not a URL',
    { CLEF_AGENT_TELEMETRY_URL: 'otel collector' },
    ['CLEF_AGENT_TELEMETRY_URL: is not a valid URL; expected an http:// or https:// URL'],
  ],
  [
    'CLEF_AGENT_LOG_LEVEL: unknown level',
    { CLEF_AGENT_LOG_LEVEL: 'verbose' },
    ['CLEF_AGENT_LOG_LEVEL: "verbose" is not a valid log level; expected one of trace, debug, info, warn, error, fatal, silent'],
  ],
  [
    'CLEF_AGENT_MAX_ARTIFACT_BYTES: below 1024',
    { CLEF_AGENT_MAX_ARTIFACT_BYTES: '100' },
    ['CLEF_AGENT_MAX_ARTIFACT_BYTES: 100 is below the minimum; expected an integer from 1024 to 268435456 (bytes)'],
  ],
  [
    'CLEF_AGENT_MAX_ARTIFACT_BYTES: a size with a unit',
    { CLEF_AGENT_MAX_ARTIFACT_BYTES: '10MB' },
    ['CLEF_AGENT_MAX_ARTIFACT_BYTES: "10MB" is not an integer; expected an integer from 1024 to 268435456 (bytes)'],
  ],
  [
    'CLEF_AGENT_MAX_CONNECTIONS: zero',
    { CLEF_AGENT_MAX_CONNECTIONS: '0' },
    ['CLEF_AGENT_MAX_CONNECTIONS: 0 is below the minimum; expected an integer from 1 to 65535'],
  ],
  ['CLEF_AGENT_WORKERS: zero', { CLEF_AGENT_WORKERS: '0' }, ['CLEF_AGENT_WORKERS: 0 is below the minimum; expected an integer from 1 to 64']],
  ['CLEF_AGENT_WORKERS: above 64', { CLEF_AGENT_WORKERS: '65' }, ['CLEF_AGENT_WORKERS: 65 is above the maximum; expected an integer from 1 to 64']],
  [
    'an unknown CLEF_AGENT_* name (typo) is refused with a suggestion, its value not echoed',
    { CLEF_AGENT_VERIFYKEY: 'TypoValueSecret' },
    ['CLEF_AGENT_VERIFYKEY: is not a known setting; expected one of the CLEF_AGENT_* variables documented in the README (did you mean CLEF_AGENT_VERIFY_KEY?)'],
  ],
];

describe('§3 config: plain settings', { concurrency: 6 }, () => {
  const dir = suiteTempDirs('clef-config-').make();
  let base: Record<string, string>;
  /** A configuration that loads a real artifact, for the cases that must start. */
  let good: Record<string, string>;
  before(async () => {
    base = await baseEnv(dir);
    const key = await ageKeyPair();
    const artifact = join(dir, 'good.json');
    writeFileSync(artifact, await artifactJson({ recipient: key.recipient, payload: { app: { K: 'v' } } }));
    good = { ...base, CLEF_AGENT_SOURCE: artifact, CLEF_AGENT_AGE_KEY: key.identity };
  });

  for (const [name, changes, lines] of CASES) {
    it(`§3 ${name} → refused, exit 2, nothing listens`, { timeout: 30_000 }, async () => {
      assertRefused(await runCli(base, changes), lines, ['TypoValueSecret']);
    });
  }

  it('§3 CLEF_AGENT_CACHE_PATH: an existing file → refused, exit 2', { timeout: 30_000 }, async () => {
    const file = join(dir, 'cache-is-a-file');
    writeFileSync(file, 'x');
    assertRefused(await runCli(base, { CLEF_AGENT_CACHE_PATH: file }), [
      `CLEF_AGENT_CACHE_PATH: ${JSON.stringify(file)} exists and is not a directory; expected a directory for the disk cache (created if missing)`,
    ]);
  });

  it('§3: several invalid settings are all reported at once, one line each, in a fixed order', { timeout: 30_000 }, async () => {
    assertRefused(
      await runCli(base, { CLEF_AGENT_WORKERS: '0', CLEF_AGENT_PORT: 'x', CLEF_AGENT_LOG_LEVEL: 'loud', CLEF_AGENT_TOKEN: 'with space' }),
      [
        'CLEF_AGENT_PORT: "x" is not an integer; expected an integer from 0 to 65535',
        'CLEF_AGENT_TOKEN: contains a space, a control character or a non-ASCII character; expected a bearer token of visible ASCII characters without spaces (at least 32 recommended, at most 1024)',
        'CLEF_AGENT_LOG_LEVEL: "loud" is not a valid log level; expected one of trace, debug, info, warn, error, fatal, silent',
        'CLEF_AGENT_WORKERS: 0 is below the minimum; expected an integer from 1 to 64',
      ],
      ['with space'],
    );
  });

  it('§3 CLEF_AGENT_PORT: a port already in use → exits non-zero before serving, naming the port', { timeout: 30_000 }, async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    try {
      const port = (blocker.address() as net.AddressInfo).port;
      const r = await runCli(base, { CLEF_AGENT_PORT: String(port) });
      assert.notEqual(r.code, 0);
      assert.notEqual(r.code, null);
      assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE \\(the port is in use; set CLEF_AGENT_PORT\\)`));
      assert.ok(!r.stdout.includes('"listening"'));
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });

  it('§3 CLEF_AGENT_TOKEN: a short token is accepted with a warning', { timeout: 30_000 }, async () => {
    const agent = new AgentProcess({ ...good, CLEF_AGENT_TOKEN: 'short-Tok3n' });
    try {
      await agent.ready();
      const warning = agent.logs().find((l) => l.event === 'config.warning');
      assert.match(String(warning?.msg), /CLEF_AGENT_TOKEN is shorter than 32 characters/);
      assert.ok(!agent.output.includes('short-Tok3n'));
    } finally {
      assert.equal(await agent.stop(), 0);
    }
  });

  for (const [ttl, poll] of [
    ['300', 30],
    ['120', 12],
    ['45', 5],
    ['0', 5],
  ] as const) {
    it(`§4.1: without CLEF_AGENT_POLL_INTERVAL, CACHE_TTL=${ttl} polls every ${poll} s (CACHE_TTL/10, at least 5 s)`, { timeout: 30_000 }, async () => {
      const agent = new AgentProcess({ ...good, CLEF_AGENT_CACHE_TTL: ttl });
      try {
        const line = await agent.waitForLog((l) => l.event === 'agent.starting');
        assert.equal(line['pollInterval'], poll);
        assert.equal(line['mode'], ttl === '0' ? 'jit' : 'cached');
        await agent.ready();
      } finally {
        assert.equal(await agent.stop(), 0);
      }
    });
  }

  it('§2.2: without CLEF_AGENT_VERIFY_KEY the agent warns at start-up', { timeout: 30_000 }, async () => {
    const agent = new AgentProcess({ ...good });
    try {
      await agent.ready();
      const w = agent.logs().find((l) => l.event === 'config.no_verify_key');
      assert.equal(w?.level, 'warn');
    } finally {
      await agent.stop();
    }
  });

  it('§3: a valid configuration starts and listens on 127.0.0.1 (control for the refusals above)', { timeout: 30_000 }, async () => {
    const agent = new AgentProcess({ ...good });
    try {
      const line = await agent.waitForLog((l) => l.event === 'listening');
      assert.equal(line['address'], '127.0.0.1');
      await agent.ready();
      assert.equal((await agent.request('/v1/ready')).status, 200);
      assert.equal(agent.stderr, '');
    } finally {
      assert.equal(await agent.stop(), 0);
    }
  });
});
