/** SPEC §3 rows other than source, token and keys: port, id, limits, log level, telemetry, workers. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cleanup, env, load, refuseWith, tempDir } from './helpers.js';

after(cleanup);

describe('defaults', () => {
  test('a minimal environment gets every documented default', () => {
    const c = load(env());
    assert.equal(c.port, 7779);
    assert.equal(c.cacheTtl, 300);
    assert.equal(c.maxStale, 300);
    assert.equal(c.pollInterval, 30);
    assert.equal(c.pollIntervalExplicit, false);
    assert.equal(c.allowHttp, false);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.maxArtifactBytes, 10_485_760);
    assert.equal(c.maxConnections, 1024);
    assert.equal(c.workers, 3);
    assert.equal(c.cachePath, undefined);
    assert.equal(c.verifyKey, undefined);
    assert.equal(c.telemetryUrl, undefined);
    assert.equal(c.expectIdentity, undefined);
    assert.equal(c.expectEnvironment, undefined);
    assert.deepEqual(c.warnings, []);
  });
});

describe('CLEF_AGENT_PORT', () => {
  const expected = 'expected an integer from 0 to 65535';
  test('CLEF_AGENT_PORT: accepts an integer in range', () => assert.equal(load(env({ CLEF_AGENT_PORT: '8080' })).port, 8080));
  test('CLEF_AGENT_PORT: accepts 0 (any free port, for tests)', () => assert.equal(load(env({ CLEF_AGENT_PORT: '0' })).port, 0));
  test('CLEF_AGENT_PORT: accepts 65535', () => assert.equal(load(env({ CLEF_AGENT_PORT: '65535' })).port, 65535));
  test('CLEF_AGENT_PORT: rejects a non-integer', () =>
    void refuseWith(env({ CLEF_AGENT_PORT: 'abc' }), [`CLEF_AGENT_PORT: "abc" is not an integer; ${expected}`]));
  test('CLEF_AGENT_PORT: rejects a decimal', () =>
    void refuseWith(env({ CLEF_AGENT_PORT: '80.5' }), [`CLEF_AGENT_PORT: "80.5" is not an integer; ${expected}`]));
  test('CLEF_AGENT_PORT: rejects surrounding spaces', () =>
    void refuseWith(env({ CLEF_AGENT_PORT: ' 80' }), [`CLEF_AGENT_PORT: " 80" is not an integer; ${expected}`]));
  test('CLEF_AGENT_PORT: rejects a value above 65535', () =>
    void refuseWith(env({ CLEF_AGENT_PORT: '65536' }), [`CLEF_AGENT_PORT: 65536 is above the maximum; ${expected}`]));
  test('CLEF_AGENT_PORT: rejects a negative value', () =>
    void refuseWith(env({ CLEF_AGENT_PORT: '-1' }), [`CLEF_AGENT_PORT: -1 is below the minimum; ${expected}`]));
  test('CLEF_AGENT_PORT: rejects an empty value', () => void refuseWith(env({ CLEF_AGENT_PORT: '' }), [`CLEF_AGENT_PORT: is empty; ${expected}`]));
  test('CLEF_AGENT_PORT: truncates a very long number in the message', () =>
    void refuseWith(env({ CLEF_AGENT_PORT: '9'.repeat(30) }), [`CLEF_AGENT_PORT: ${'9'.repeat(20)}… is above the maximum; ${expected}`]));
});

describe('CLEF_AGENT_ID', () => {
  const expected = 'expected 1 to 128 characters: letters, digits and . _ - : @ / + =';
  test('CLEF_AGENT_ID: defaults to a random UUID', () => {
    const a = load(env()).agentId;
    assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(load(env()).agentId, a);
  });
  test('CLEF_AGENT_ID: accepts a pod-style name', () => assert.equal(load(env({ CLEF_AGENT_ID: 'payments-7f9c/agent:1' })).agentId, 'payments-7f9c/agent:1'));
  test('CLEF_AGENT_ID: accepts 128 characters', () => assert.equal(load(env({ CLEF_AGENT_ID: 'a'.repeat(128) })).agentId.length, 128));
  test('CLEF_AGENT_ID: rejects an empty value', () => void refuseWith(env({ CLEF_AGENT_ID: '' }), [`CLEF_AGENT_ID: is empty; ${expected}`]));
  test('CLEF_AGENT_ID: rejects spaces', () =>
    void refuseWith(env({ CLEF_AGENT_ID: 'my agent' }), [`CLEF_AGENT_ID: "my agent" contains a character that is not allowed; ${expected}`]));
  test('CLEF_AGENT_ID: rejects a newline, escaped in the message', () =>
    void refuseWith(env({ CLEF_AGENT_ID: 'a\nb' }), [`CLEF_AGENT_ID: "a\\nb" contains a character that is not allowed; ${expected}`]));
  test('CLEF_AGENT_ID: rejects more than 128 characters, truncated in the message', () =>
    void refuseWith(env({ CLEF_AGENT_ID: 'a'.repeat(129) }), [`CLEF_AGENT_ID: "${'a'.repeat(64)}…" is longer than 128 characters; ${expected}`]));
});

describe('CLEF_AGENT_CACHE_PATH', () => {
  const expected = 'expected a directory for the disk cache (created if missing)';
  test('CLEF_AGENT_CACHE_PATH: accepts an existing directory', () => {
    const dir = tempDir();
    assert.equal(load(env({ CLEF_AGENT_CACHE_PATH: dir })).cachePath, dir);
  });
  test('CLEF_AGENT_CACHE_PATH: accepts a missing directory, resolved against the working directory', () => {
    const cwd = tempDir();
    assert.equal(load(env({ CLEF_AGENT_CACHE_PATH: 'cache/clef' }), { cwd }).cachePath, join(cwd, 'cache/clef'));
  });
  test('CLEF_AGENT_CACHE_PATH: rejects a path that is a file', () => {
    const file = join(tempDir(), 'file');
    writeFileSync(file, 'x');
    refuseWith(env({ CLEF_AGENT_CACHE_PATH: file }), [`CLEF_AGENT_CACHE_PATH: "${file}" exists and is not a directory; ${expected}`]);
  });
  test('CLEF_AGENT_CACHE_PATH: rejects a path below a file', () => {
    const file = join(tempDir(), 'file');
    writeFileSync(file, 'x');
    refuseWith(env({ CLEF_AGENT_CACHE_PATH: `${file}/sub` }), [`CLEF_AGENT_CACHE_PATH: "${file}/sub" cannot be inspected (ENOTDIR); ${expected}`]);
  });
  test('CLEF_AGENT_CACHE_PATH: rejects an empty value', () =>
    void refuseWith(env({ CLEF_AGENT_CACHE_PATH: '' }), [`CLEF_AGENT_CACHE_PATH: is empty; ${expected}`]));
});

describe('CLEF_AGENT_EXPECT_IDENTITY and CLEF_AGENT_EXPECT_ENVIRONMENT', () => {
  const expected = 'expected a non-empty string of at most 256 characters without control characters';
  test('CLEF_AGENT_EXPECT_IDENTITY: accepts a name', () =>
    assert.equal(load(env({ CLEF_AGENT_EXPECT_IDENTITY: 'api-gateway' })).expectIdentity, 'api-gateway'));
  test('CLEF_AGENT_EXPECT_ENVIRONMENT: accepts a name', () =>
    assert.equal(load(env({ CLEF_AGENT_EXPECT_ENVIRONMENT: 'production' })).expectEnvironment, 'production'));
  test('CLEF_AGENT_EXPECT_IDENTITY: rejects an empty value', () =>
    void refuseWith(env({ CLEF_AGENT_EXPECT_IDENTITY: '' }), [`CLEF_AGENT_EXPECT_IDENTITY: is empty; ${expected}`]));
  test('CLEF_AGENT_EXPECT_ENVIRONMENT: rejects an empty value', () =>
    void refuseWith(env({ CLEF_AGENT_EXPECT_ENVIRONMENT: '' }), [`CLEF_AGENT_EXPECT_ENVIRONMENT: is empty; ${expected}`]));
  test('CLEF_AGENT_EXPECT_ENVIRONMENT: rejects a control character', () =>
    void refuseWith(env({ CLEF_AGENT_EXPECT_ENVIRONMENT: 'prod\r\n' }), [
      `CLEF_AGENT_EXPECT_ENVIRONMENT: "prod\\r\\n" contains a control character; ${expected}`,
    ]));
  test('CLEF_AGENT_EXPECT_IDENTITY: rejects more than 256 characters', () =>
    void refuseWith(env({ CLEF_AGENT_EXPECT_IDENTITY: 'i'.repeat(257) }), [
      `CLEF_AGENT_EXPECT_IDENTITY: "${'i'.repeat(64)}…" is longer than 256 characters; ${expected}`,
    ]));
});

describe('CLEF_AGENT_ALLOW_HTTP', () => {
  for (const [raw, value] of [
    ['true', true],
    ['1', true],
    ['TRUE', true],
    ['false', false],
    ['0', false],
  ] as const) {
    test(`CLEF_AGENT_ALLOW_HTTP: accepts ${raw}`, () => assert.equal(load(env({ CLEF_AGENT_ALLOW_HTTP: raw })).allowHttp, value));
  }
  test('CLEF_AGENT_ALLOW_HTTP: rejects a non-boolean', () =>
    void refuseWith(env({ CLEF_AGENT_ALLOW_HTTP: 'yes' }), ['CLEF_AGENT_ALLOW_HTTP: "yes" is not a boolean; expected true, false, 1 or 0']));
  test('CLEF_AGENT_ALLOW_HTTP: rejects an empty value', () =>
    void refuseWith(env({ CLEF_AGENT_ALLOW_HTTP: '' }), ['CLEF_AGENT_ALLOW_HTTP: is empty; expected true, false, 1 or 0']));
});

describe('CLEF_AGENT_TELEMETRY_URL', () => {
  const expected = 'expected an http:// or https:// URL';
  test('CLEF_AGENT_TELEMETRY_URL: accepts an https URL', () =>
    assert.equal(load(env({ CLEF_AGENT_TELEMETRY_URL: 'https://otel.example.com/v1/logs' })).telemetryUrl, 'https://otel.example.com/v1/logs'));
  test('CLEF_AGENT_TELEMETRY_URL: accepts http to a loopback collector without a warning', () => {
    const c = load(env({ CLEF_AGENT_TELEMETRY_URL: 'http://127.0.0.1:4318/v1/logs' }));
    assert.equal(c.telemetryUrl, 'http://127.0.0.1:4318/v1/logs');
    assert.deepEqual(c.warnings, []);
  });
  test('CLEF_AGENT_TELEMETRY_URL: refuses (credentials masked) plain http to a remote host', () =>
    void refuseWith(env({ CLEF_AGENT_TELEMETRY_URL: 'http://user:hunter2@otel.example.com:4318/v1/logs' }), [
      'CLEF_AGENT_TELEMETRY_URL: "http://***@otel.example.com:4318/v1/logs" uses plain http to a non-loopback host, which would carry the telemetry auth headers unencrypted; expected an http(s):// URL; plain http only to a loopback host (127.0.0.0/8, ::1, localhost) or with CLEF_AGENT_ALLOW_HTTP=true',
    ]));
  test('CLEF_AGENT_TELEMETRY_URL: with CLEF_AGENT_ALLOW_HTTP=true, warns (credentials masked) about plain http to a remote host', () => {
    const c = load(env({ CLEF_AGENT_TELEMETRY_URL: 'http://user:hunter2@otel.example.com:4318/v1/logs', CLEF_AGENT_ALLOW_HTTP: 'true' }));
    assert.deepEqual(c.warnings, [
      'CLEF_AGENT_TELEMETRY_URL "http://***@otel.example.com:4318/v1/logs" uses plain http to a non-loopback host (allowed by CLEF_AGENT_ALLOW_HTTP); telemetry and its auth headers travel unencrypted',
    ]);
  });
  test('CLEF_AGENT_TELEMETRY_URL: rejects another scheme', () =>
    void refuseWith(env({ CLEF_AGENT_TELEMETRY_URL: 'grpc://otel:4317' }), [`CLEF_AGENT_TELEMETRY_URL: uses the unsupported scheme "grpc:"; ${expected}`]));
  test('CLEF_AGENT_TELEMETRY_URL: rejects a host:port without a scheme', () =>
    void refuseWith(env({ CLEF_AGENT_TELEMETRY_URL: 'otel.example.com:x' }), [
      `CLEF_AGENT_TELEMETRY_URL: uses the unsupported scheme "otel.example.com:"; ${expected}`,
    ]));
  test('CLEF_AGENT_TELEMETRY_URL: rejects a relative URL without echoing it', () =>
    void refuseWith(env({ CLEF_AGENT_TELEMETRY_URL: '/v1/logs?token=s3cr3t' }), [`CLEF_AGENT_TELEMETRY_URL: is not a valid URL; ${expected}`]));
  test('CLEF_AGENT_TELEMETRY_URL: rejects an empty value', () =>
    void refuseWith(env({ CLEF_AGENT_TELEMETRY_URL: '' }), [`CLEF_AGENT_TELEMETRY_URL: is empty; ${expected}`]));
});

describe('CLEF_AGENT_LOG_LEVEL', () => {
  for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const) {
    test(`CLEF_AGENT_LOG_LEVEL: accepts ${level}`, () => assert.equal(load(env({ CLEF_AGENT_LOG_LEVEL: level })).logLevel, level));
  }
  test('CLEF_AGENT_LOG_LEVEL: accepts upper case and normalizes it', () => assert.equal(load(env({ CLEF_AGENT_LOG_LEVEL: 'DEBUG' })).logLevel, 'debug'));
  test('CLEF_AGENT_LOG_LEVEL: rejects an unknown level', () =>
    void refuseWith(env({ CLEF_AGENT_LOG_LEVEL: 'verbose' }), [
      'CLEF_AGENT_LOG_LEVEL: "verbose" is not a valid log level; expected one of trace, debug, info, warn, error, fatal, silent',
    ]));
});

describe('CLEF_AGENT_MAX_ARTIFACT_BYTES', () => {
  const expected = 'expected an integer from 1024 to 268435456 (bytes)';
  test('CLEF_AGENT_MAX_ARTIFACT_BYTES: accepts a value in range', () =>
    assert.equal(load(env({ CLEF_AGENT_MAX_ARTIFACT_BYTES: '1048576' })).maxArtifactBytes, 1_048_576));
  test('CLEF_AGENT_MAX_ARTIFACT_BYTES: rejects a value below 1024', () =>
    void refuseWith(env({ CLEF_AGENT_MAX_ARTIFACT_BYTES: '1023' }), [`CLEF_AGENT_MAX_ARTIFACT_BYTES: 1023 is below the minimum; ${expected}`]));
  test('CLEF_AGENT_MAX_ARTIFACT_BYTES: rejects a value above 256 MiB', () =>
    void refuseWith(env({ CLEF_AGENT_MAX_ARTIFACT_BYTES: '268435457' }), [`CLEF_AGENT_MAX_ARTIFACT_BYTES: 268435457 is above the maximum; ${expected}`]));
  test('CLEF_AGENT_MAX_ARTIFACT_BYTES: rejects a unit suffix', () =>
    void refuseWith(env({ CLEF_AGENT_MAX_ARTIFACT_BYTES: '10MiB' }), [`CLEF_AGENT_MAX_ARTIFACT_BYTES: "10MiB" is not an integer; ${expected}`]));
});

describe('CLEF_AGENT_MAX_KEYS', () => {
  const expected = 'expected an integer from 1 to 10000000 (keys in the payload)';
  test('CLEF_AGENT_MAX_KEYS: defaults to 100000', () => assert.equal(load(env()).maxKeys, 100_000));
  test('CLEF_AGENT_MAX_KEYS: accepts a value in range', () => assert.equal(load(env({ CLEF_AGENT_MAX_KEYS: '500' })).maxKeys, 500));
  test('CLEF_AGENT_MAX_KEYS: rejects 0', () =>
    void refuseWith(env({ CLEF_AGENT_MAX_KEYS: '0' }), [`CLEF_AGENT_MAX_KEYS: 0 is below the minimum; ${expected}`]));
  test('CLEF_AGENT_MAX_KEYS: rejects a value above ten million', () =>
    void refuseWith(env({ CLEF_AGENT_MAX_KEYS: '10000001' }), [`CLEF_AGENT_MAX_KEYS: 10000001 is above the maximum; ${expected}`]));
  test('CLEF_AGENT_MAX_KEYS: rejects a non-integer', () =>
    void refuseWith(env({ CLEF_AGENT_MAX_KEYS: '1e5' }), [`CLEF_AGENT_MAX_KEYS: "1e5" is not an integer; ${expected}`]));
});

describe('CLEF_AGENT_MAX_CONNECTIONS', () => {
  const expected = 'expected an integer from 1 to 65535';
  test('CLEF_AGENT_MAX_CONNECTIONS: accepts a value in range', () => assert.equal(load(env({ CLEF_AGENT_MAX_CONNECTIONS: '64' })).maxConnections, 64));
  test('CLEF_AGENT_MAX_CONNECTIONS: rejects 0', () =>
    void refuseWith(env({ CLEF_AGENT_MAX_CONNECTIONS: '0' }), [`CLEF_AGENT_MAX_CONNECTIONS: 0 is below the minimum; ${expected}`]));
  test('CLEF_AGENT_MAX_CONNECTIONS: rejects a value above 65535', () =>
    void refuseWith(env({ CLEF_AGENT_MAX_CONNECTIONS: '65536' }), [`CLEF_AGENT_MAX_CONNECTIONS: 65536 is above the maximum; ${expected}`]));
});

describe('CLEF_AGENT_MAX_WAITERS', () => {
  const expected = 'expected an integer from 1 to 65535 (parked long-poll requests)';
  test('CLEF_AGENT_MAX_WAITERS: defaults to 1024', () => assert.equal(load(env()).maxWaiters, 1024));
  test('CLEF_AGENT_MAX_WAITERS: accepts a value in range', () => assert.equal(load(env({ CLEF_AGENT_MAX_WAITERS: '2' })).maxWaiters, 2));
  test('CLEF_AGENT_MAX_WAITERS: rejects 0', () =>
    void refuseWith(env({ CLEF_AGENT_MAX_WAITERS: '0' }), [`CLEF_AGENT_MAX_WAITERS: 0 is below the minimum; ${expected}`]));
  test('CLEF_AGENT_MAX_WAITERS: rejects a value above 65535', () =>
    void refuseWith(env({ CLEF_AGENT_MAX_WAITERS: '65536' }), [`CLEF_AGENT_MAX_WAITERS: 65536 is above the maximum; ${expected}`]));
  test('CLEF_AGENT_MAX_WAITERS: rejects a non-integer', () =>
    void refuseWith(env({ CLEF_AGENT_MAX_WAITERS: 'many' }), [`CLEF_AGENT_MAX_WAITERS: "many" is not an integer; ${expected}`]));
  test('CLEF_AGENT_MAX_WAITERS set at or above the connection cap: kept as set, and a warning says how many long polls park (the rest stay for probes)', () => {
    const c = load(env({ CLEF_AGENT_MAX_WAITERS: '64', CLEF_AGENT_MAX_CONNECTIONS: '64' }));
    assert.equal(c.maxWaiters, 64);
    assert.deepEqual(c.warnings, [
      'CLEF_AGENT_MAX_WAITERS 64: at most 60 long polls park at once, keeping 4 of the 64 connections (CLEF_AGENT_MAX_CONNECTIONS) free for probes and other requests; raise CLEF_AGENT_MAX_CONNECTIONS to park more',
    ]);
  });
  test('CLEF_AGENT_MAX_WAITERS: no warning when it leaves connections free, nor for the defaults (both 1024, capped quietly)', () => {
    assert.deepEqual(load(env({ CLEF_AGENT_MAX_WAITERS: '60', CLEF_AGENT_MAX_CONNECTIONS: '64' })).warnings, []);
    assert.deepEqual(load(env({ CLEF_AGENT_MAX_CONNECTIONS: '64' })).warnings, []);
    assert.deepEqual(load(env()).warnings, []);
  });
});

describe('CLEF_AGENT_WORKERS', () => {
  const expected = 'expected an integer from 1 to 64';
  test('CLEF_AGENT_WORKERS: accepts an explicit count', () => assert.equal(load(env({ CLEF_AGENT_WORKERS: '8' })).workers, 8));
  test('CLEF_AGENT_WORKERS: defaults to one less than the available CPUs', () =>
    assert.equal(load(env(), { cpu: { cgroupRoot: tempDir(), selfCgroupFile: join(tempDir(), 'absent'), availableParallelism: () => 8 } }).workers, 7));
  test('CLEF_AGENT_WORKERS: defaults to 1 on a single CPU', () =>
    assert.equal(load(env(), { cpu: { cgroupRoot: tempDir(), selfCgroupFile: join(tempDir(), 'absent'), availableParallelism: () => 1 } }).workers, 1));
  test('CLEF_AGENT_WORKERS: rejects 0', () => void refuseWith(env({ CLEF_AGENT_WORKERS: '0' }), [`CLEF_AGENT_WORKERS: 0 is below the minimum; ${expected}`]));
  test('CLEF_AGENT_WORKERS: rejects more than 64', () =>
    void refuseWith(env({ CLEF_AGENT_WORKERS: '65' }), [`CLEF_AGENT_WORKERS: 65 is above the maximum; ${expected}`]));
  test('CLEF_AGENT_WORKERS: rejects a non-integer', () =>
    void refuseWith(env({ CLEF_AGENT_WORKERS: 'auto' }), [`CLEF_AGENT_WORKERS: "auto" is not an integer; ${expected}`]));
});

describe('CLEF_AGENT_MAX_QUEUE', () => {
  const expected = 'expected an integer from 1 to 100000 (tasks waiting for a worker)';
  test('CLEF_AGENT_MAX_QUEUE: defaults to 256', () => assert.equal(load(env()).maxQueue, 256));
  test('CLEF_AGENT_MAX_QUEUE: accepts a value in range', () => assert.equal(load(env({ CLEF_AGENT_MAX_QUEUE: '16' })).maxQueue, 16));
  test('CLEF_AGENT_MAX_QUEUE: rejects 0', () =>
    void refuseWith(env({ CLEF_AGENT_MAX_QUEUE: '0' }), [`CLEF_AGENT_MAX_QUEUE: 0 is below the minimum; ${expected}`]));
  test('CLEF_AGENT_MAX_QUEUE: rejects a value above 100000', () =>
    void refuseWith(env({ CLEF_AGENT_MAX_QUEUE: '100001' }), [`CLEF_AGENT_MAX_QUEUE: 100001 is above the maximum; ${expected}`]));
  test('CLEF_AGENT_MAX_QUEUE: rejects a non-integer', () =>
    void refuseWith(env({ CLEF_AGENT_MAX_QUEUE: 'unbounded' }), [`CLEF_AGENT_MAX_QUEUE: "unbounded" is not an integer; ${expected}`]));
});

describe('CLEF_AGENT_DECRYPT_TIMEOUT_MS', () => {
  const expected = 'expected an integer from 100 to 60000 (milliseconds)';
  test('CLEF_AGENT_DECRYPT_TIMEOUT_MS: defaults to 5000', () => assert.equal(load(env()).decryptTimeoutMs, 5000));
  test('CLEF_AGENT_DECRYPT_TIMEOUT_MS: accepts a value in range', () =>
    assert.equal(load(env({ CLEF_AGENT_DECRYPT_TIMEOUT_MS: '250' })).decryptTimeoutMs, 250));
  test('CLEF_AGENT_DECRYPT_TIMEOUT_MS: rejects a value below 100', () =>
    void refuseWith(env({ CLEF_AGENT_DECRYPT_TIMEOUT_MS: '99' }), [`CLEF_AGENT_DECRYPT_TIMEOUT_MS: 99 is below the minimum; ${expected}`]));
  test('CLEF_AGENT_DECRYPT_TIMEOUT_MS: rejects a value above 60000', () =>
    void refuseWith(env({ CLEF_AGENT_DECRYPT_TIMEOUT_MS: '60001' }), [`CLEF_AGENT_DECRYPT_TIMEOUT_MS: 60001 is above the maximum; ${expected}`]));
  test('CLEF_AGENT_DECRYPT_TIMEOUT_MS: rejects a unit suffix', () =>
    void refuseWith(env({ CLEF_AGENT_DECRYPT_TIMEOUT_MS: '5s' }), [`CLEF_AGENT_DECRYPT_TIMEOUT_MS: "5s" is not an integer; ${expected}`]));
});
