/** CLEF_AGENT_OPS_ADDR (SPEC §8): host:port of the operations listener, off when unset. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { cleanup, env, load, refuseWith } from './helpers.js';

after(cleanup);

const expected = 'expected host:port with an IPv4 address, a bracketed IPv6 address or localhost, and a port from 0 to 65535 (e.g. 0.0.0.0:7780)';

describe('CLEF_AGENT_OPS_ADDR', () => {
  test('CLEF_AGENT_OPS_ADDR: unset means no operations listener', () => assert.equal(load(env()).opsAddr, undefined));
  test('CLEF_AGENT_OPS_ADDR: accepts any IPv4 address, the wildcard included', () => {
    assert.deepEqual(load(env({ CLEF_AGENT_OPS_ADDR: '0.0.0.0:7780' })).opsAddr, { host: '0.0.0.0', port: 7780 });
    assert.deepEqual(load(env({ CLEF_AGENT_OPS_ADDR: '10.1.2.3:9100' })).opsAddr, { host: '10.1.2.3', port: 9100 });
  });
  test('CLEF_AGENT_OPS_ADDR: accepts a bracketed IPv6 address and localhost', () => {
    assert.deepEqual(load(env({ CLEF_AGENT_OPS_ADDR: '[::]:7780' })).opsAddr, { host: '::', port: 7780 });
    assert.deepEqual(load(env({ CLEF_AGENT_OPS_ADDR: '[::1]:7780' })).opsAddr, { host: '::1', port: 7780 });
    assert.deepEqual(load(env({ CLEF_AGENT_OPS_ADDR: 'localhost:7780' })).opsAddr, { host: '127.0.0.1', port: 7780 });
  });
  test('CLEF_AGENT_OPS_ADDR: port 0 (any free port) is accepted, also with CLEF_AGENT_PORT=0', () =>
    assert.deepEqual(load(env({ CLEF_AGENT_OPS_ADDR: '127.0.0.1:0', CLEF_AGENT_PORT: '0' })).opsAddr, { host: '127.0.0.1', port: 0 }));
  test('CLEF_AGENT_OPS_ADDR: refuses a bare port, a DNS name, an unbracketed IPv6 address and a URL', () => {
    void refuseWith(env({ CLEF_AGENT_OPS_ADDR: '7780' }), [`CLEF_AGENT_OPS_ADDR: "7780" has no port; ${expected}`]);
    void refuseWith(env({ CLEF_AGENT_OPS_ADDR: 'metrics.internal:7780' }), [
      `CLEF_AGENT_OPS_ADDR: "metrics.internal:7780" does not start with an IP address or localhost; ${expected}`,
    ]);
    void refuseWith(env({ CLEF_AGENT_OPS_ADDR: '::1:7780' }), [`CLEF_AGENT_OPS_ADDR: "::1:7780" does not start with an IP address or localhost; ${expected}`]);
    void refuseWith(env({ CLEF_AGENT_OPS_ADDR: 'http://0.0.0.0:7780' }), [
      `CLEF_AGENT_OPS_ADDR: "http://0.0.0.0:7780" does not start with an IP address or localhost; ${expected}`,
    ]);
    void refuseWith(env({ CLEF_AGENT_OPS_ADDR: '256.0.0.1:7780' }), [
      `CLEF_AGENT_OPS_ADDR: "256.0.0.1:7780" does not start with an IP address or localhost; ${expected}`,
    ]);
  });
  test('CLEF_AGENT_OPS_ADDR: refuses a bad port', () => {
    void refuseWith(env({ CLEF_AGENT_OPS_ADDR: '0.0.0.0:' }), [`CLEF_AGENT_OPS_ADDR: "0.0.0.0:" has no port; ${expected}`]);
    void refuseWith(env({ CLEF_AGENT_OPS_ADDR: '0.0.0.0:http' }), [`CLEF_AGENT_OPS_ADDR: "http" is not an integer; ${expected}`]);
    void refuseWith(env({ CLEF_AGENT_OPS_ADDR: '0.0.0.0:65536' }), [`CLEF_AGENT_OPS_ADDR: 65536 is above the maximum; ${expected}`]);
  });
  test('CLEF_AGENT_OPS_ADDR: refuses an empty value', () => void refuseWith(env({ CLEF_AGENT_OPS_ADDR: '' }), [`CLEF_AGENT_OPS_ADDR: is empty; ${expected}`]));
  test('CLEF_AGENT_OPS_ADDR: refuses the API port, the default one included', () => {
    const same = 'expected a port other than the API port';
    void refuseWith(env({ CLEF_AGENT_OPS_ADDR: '0.0.0.0:7779' }), [`CLEF_AGENT_OPS_ADDR: port 7779 is the secrets API port (CLEF_AGENT_PORT); ${same}`]);
    void refuseWith(env({ CLEF_AGENT_OPS_ADDR: '0.0.0.0:8080', CLEF_AGENT_PORT: '8080' }), [
      `CLEF_AGENT_OPS_ADDR: port 8080 is the secrets API port (CLEF_AGENT_PORT); ${same}`,
    ]);
  });
});
