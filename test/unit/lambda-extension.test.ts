/**
 * The Lambda extension's pieces in-process: when an INVOKE refreshes (a pure function of the
 * clock), the `AWS_LAMBDA_RUNTIME_API` address check, the extension name setting, and the
 * Extensions API client against the emulator (every call it makes is one the emulator accepts;
 * calls before registering fail without reaching it).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { LambdaExtensionsApi } from '../../emulators/lambda-extensions.js';
import { ExtensionsApi, ExtensionsApiError, extensionsApiBase } from '../../src/lifecycle/extensions-api.js';
import { invokeRefreshDue } from '../../src/refresh/schedule.js';
import { cleanup, env, load, refuseWith } from '../config/helpers.js';

after(cleanup);

describe('invokeRefreshDue (SPEC §6: INVOKE does the poll a frozen sandbox missed)', () => {
  const base = { nowMs: 1_000_000, pollIntervalSeconds: 30, jit: false };
  test('JIT: every INVOKE', () => assert.equal(invokeRefreshDue({ ...base, jit: true, lastAttemptAtMs: base.nowMs }), true));
  test('cached: not before the poll interval since the last attempt', () =>
    assert.equal(invokeRefreshDue({ ...base, lastAttemptAtMs: base.nowMs - 29_999 }), false));
  test('cached: once the poll interval passed (and so always once CACHE_TTL passed)', () => {
    assert.equal(invokeRefreshDue({ ...base, lastAttemptAtMs: base.nowMs - 30_000 }), true);
    assert.equal(invokeRefreshDue({ ...base, lastAttemptAtMs: base.nowMs - 300_000 }), true);
  });
  test('cached: sooner before expiresAt (80 % of the time left, at least 5 s)', () => {
    const expiresAtMs = base.nowMs + 10_000;
    assert.equal(invokeRefreshDue({ ...base, expiresAtMs, lastAttemptAtMs: base.nowMs - 8_000 }), true);
    assert.equal(invokeRefreshDue({ ...base, expiresAtMs, lastAttemptAtMs: base.nowMs - 4_000 }), false);
  });
  test('no attempt yet: due', () => assert.equal(invokeRefreshDue({ ...base, lastAttemptAtMs: undefined }), true));
});

describe('AWS_LAMBDA_RUNTIME_API', () => {
  test('host:port gives the versioned extension base', () =>
    assert.equal(extensionsApiBase('127.0.0.1:9001').href, 'http://127.0.0.1:9001/2020-01-01/extension/'));
  for (const bad of ['', '127.0.0.1', 'http://127.0.0.1:9001', '127.0.0.1:9001/x', 'host:0', 'a b:1']) {
    test(`refuses ${JSON.stringify(bad)} with a message naming the variable`, () =>
      assert.throws(() => extensionsApiBase(bad), {
        message: `AWS_LAMBDA_RUNTIME_API: "${bad}" is not a host:port address (Lambda sets it, e.g. 127.0.0.1:9001)`,
      }));
  }
});

describe('CLEF_AGENT_LAMBDA_EXTENSION_NAME', () => {
  const expected = 'expected the file name of the extension in /opt/extensions (letters, digits, ".", "_", "-")';
  test('unset: undefined (the executable name is used)', () => assert.equal(load(env()).lambdaExtensionName, undefined));
  test('a file name is accepted', () => assert.equal(load(env({ CLEF_AGENT_LAMBDA_EXTENSION_NAME: 'clef-agent' })).lambdaExtensionName, 'clef-agent'));
  test('a path is refused', () =>
    void refuseWith(env({ CLEF_AGENT_LAMBDA_EXTENSION_NAME: 'opt/x' }), [`CLEF_AGENT_LAMBDA_EXTENSION_NAME: "opt/x" is not a file name; ${expected}`]));
  test('empty is refused', () => void refuseWith(env({ CLEF_AGENT_LAMBDA_EXTENSION_NAME: '' }), [`CLEF_AGENT_LAMBDA_EXTENSION_NAME: is empty; ${expected}`]));
});

describe('ExtensionsApi client against the emulator', () => {
  test('register, INVOKE, SHUTDOWN and exit/error pass the emulator’s protocol checks', async (t) => {
    const emu = await new LambdaExtensionsApi().start();
    t.after(() => emu.close());
    const client = new ExtensionsApi(extensionsApiBase(emu.runtimeApi));
    await assert.rejects(client.next(), (e: unknown) => e instanceof ExtensionsApiError && e.code === 'bad_answer');
    const id = await client.register('clef-agent');
    assert.equal(id, emu.registration?.id);
    const next = client.next();
    await emu.parkedInNext();
    const invoked = emu.invoke();
    const e1 = await next;
    assert.equal(e1.eventType, 'INVOKE');
    assert.ok(e1.eventType === 'INVOKE' && e1.requestId !== '' && e1.invokedFunctionArn.startsWith('arn:aws:lambda:') && e1.deadlineMs > Date.now());
    const next2 = client.next();
    await invoked;
    emu.shutdown(1_000, 'spindown');
    const e2 = await next2;
    assert.deepEqual({ type: e2.eventType, reason: e2.eventType === 'SHUTDOWN' ? e2.shutdownReason : '' }, { type: 'SHUTDOWN', reason: 'spindown' });
    await client.exitError({ type: 'Extension.ApiFailed', message: 'test' });
    assert.deepEqual(
      emu.errors.map((e) => [e.path, e.errorTypeHeader, e.body.errorType, e.body.errorMessage]),
      [['exit/error', 'Extension.ApiFailed', 'Extension.ApiFailed', 'test']],
    );
    // A second registration is a protocol error: the client reports Lambda's status and errorType.
    await assert.rejects(client.register('clef-agent'), { message: 'POST register: HTTP 403 (Extension.InvalidState)' });
    assert.equal(emu.violations.length, 1);
  });

  test('an unreachable API is an ExtensionsApiError with code unreachable', async () => {
    const emu = await new LambdaExtensionsApi().start();
    const addr = emu.runtimeApi;
    await emu.close();
    await assert.rejects(new ExtensionsApi(extensionsApiBase(addr)).register('x'), (e: unknown) => e instanceof ExtensionsApiError && e.code === 'unreachable');
  });
});
