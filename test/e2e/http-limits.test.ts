/**
 * SPEC §5.1 binding and resource limits against the real agent: listens on 127.0.0.1 only (never
 * 0.0.0.0), header-size cap, header timeout for a slow client, and the connection cap
 * (`CLEF_AGENT_MAX_CONNECTIONS`) answering 429 first in the gate order (SPEC §5).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { samplePayload } from '../helpers/artifacts.js';
import { KeepAliveConnection, listeningSockets, parseRawResponse, rawExchange, tryConnect, waitUntil } from '../kit/index.js';
import { type FileAgent, startFileAgent, TOKEN } from '../helpers/http-fixtures.js';

describe('§5.1 binding and request limits', { timeout: 120_000 }, () => {
  let fa: FileAgent;
  let port: number;
  before(async () => {
    fa = await startFileAgent({ payload: samplePayload('LIMITS') });
    port = fa.agent.port;
  });
  after(async () => {
    await fa?.close();
  });

  it('§5.1 binds 127.0.0.1 only: the agent owns exactly one listening socket, 127.0.0.1:<port> (/proc/net/tcp)', () => {
    const pid = fa.agent.child.pid;
    assert.ok(pid);
    const sockets = listeningSockets(pid);
    assert.deepEqual(sockets, [{ family: 'tcp', addressHex: '0100007F', address: '127.0.0.1', port }]);
  });

  it('§5.1 binds 127.0.0.1 only: connecting via 127.0.0.2 (another loopback address) is refused', async () => {
    // Control: a socket bound to 0.0.0.0 *is* reachable via 127.0.0.2 on Linux loopback.
    const control = net.createServer();
    await new Promise<void>((r) => control.listen(0, '0.0.0.0', r));
    try {
      assert.equal(await tryConnect('127.0.0.2', (control.address() as net.AddressInfo).port), 'connected', 'control: 0.0.0.0 is reachable via 127.0.0.2');
    } finally {
      await new Promise<void>((r) => control.close(() => r()));
    }
    assert.equal(await tryConnect('127.0.0.1', port), 'connected');
    assert.notEqual(await tryConnect('127.0.0.2', port), 'connected');
  });

  it('§5.1 binds 127.0.0.1 only: not reachable via ::1 or any non-loopback interface address', async () => {
    const addresses = ['::1'];
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) if (!a.internal && !a.address.startsWith('fe80')) addresses.push(a.address);
    }
    for (const a of addresses) assert.notEqual(await tryConnect(a, port, 3_000), 'connected', `reachable via ${a}`);
  });

  it('§5.1 header-size cap: a header over 16 KiB → 431 or connection closed, and the server keeps serving', async () => {
    const big = 'a'.repeat(20 * 1024);
    const text = await rawExchange(port, `GET /v1/secrets HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\nX-Big: ${big}\r\n\r\n`);
    const r = parseRawResponse(text);
    if (r) assert.equal(r.status, 431, text.slice(0, 200));
    assert.ok(!text.includes('LIMITS-'), 'no secrets answered');
    assert.equal((await fa.agent.request('/v1/health')).status, 200);
  });

  it('§5.1 header-size cap: many headers totalling over 16 KiB → 431 or closed', async () => {
    const headers = Array.from({ length: 200 }, (_, i) => `X-H${i}: ${'b'.repeat(100)}\r\n`).join('');
    const text = await rawExchange(port, `GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${headers}\r\n`);
    const r = parseRawResponse(text);
    if (r) assert.equal(r.status, 431);
    assert.equal((await fa.agent.request('/v1/health')).status, 200);
  });

  it('§5.1 header-size cap leaves room for ordinary requests (an 8 KiB header is served)', async () => {
    const r = await fa.agent.request('/v1/keys', { headers: { 'x-medium': 'm'.repeat(8 * 1024) } });
    assert.equal(r.status, 200);
  });

  it('§5.1 header timeout: a client dripping headers byte by byte is cut off, and others are served meanwhile', { timeout: 70_000 }, async () => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (received += d));
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(`GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`);
    let i = 0;
    const drip = setInterval(() => {
      if (!socket.destroyed) socket.write(i++ % 40 === 39 ? '\r\nX-Drip: ' : 'x');
    }, 200);
    // Bounded: the agent's headers timeout is 10 s; allow generously for the check interval.
    const bound = setTimeout(() => socket.destroy(new Error('still open after 60 s')), 60_000);
    try {
      socket.write('X-Drip: ');
      // The server answers other clients while the slow one is connected.
      assert.equal((await fa.agent.request('/v1/health')).status, 200);
      await closed;
      assert.ok(!socket.errored, `the server closed the connection: ${String(socket.errored)}`);
      const r = parseRawResponse(received);
      if (r) assert.equal(r.status, 408, received.slice(0, 120));
      else assert.equal(received, '', 'nothing but a 408 may be sent to the slow client');
    } finally {
      clearInterval(drip);
      clearTimeout(bound);
      socket.destroy();
    }
    assert.equal((await fa.agent.request('/v1/health')).status, 200);
  });
});

describe('§5.1 connection cap (CLEF_AGENT_MAX_CONNECTIONS=2)', { timeout: 60_000 }, () => {
  let fa: FileAgent;
  let port: number;
  const open: KeepAliveConnection[] = [];
  before(async () => {
    fa = await startFileAgent({ payload: samplePayload('CAP'), env: { CLEF_AGENT_MAX_CONNECTIONS: '2' } });
    port = fa.agent.port;
  });
  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await fa?.close();
  });

  const hdrs = (): Record<string, string> => ({ Host: `127.0.0.1:${port}`, Authorization: `Bearer ${TOKEN}` });

  it("§5.1 connection cap: with 2 connections held open, a third connection's request → 429 too_many_connections", async () => {
    for (let i = 0; i < 2; i++) {
      const c = await KeepAliveConnection.open(port);
      open.push(c);
      // A full request/response proves the server accepted and counts this connection.
      const r = await c.request('/v1/health', hdrs());
      assert.equal(r.status, 200);
      assert.notEqual(r.headers['connection'], 'close', 'kept alive');
    }
    const third = await KeepAliveConnection.open(port);
    const refused = await third.request('/v1/secrets', hdrs());
    assert.equal(refused.status, 429);
    assert.deepEqual(Object.keys(JSON.parse(refused.body) as object).sort(), ['error', 'reason']);
    assert.equal((JSON.parse(refused.body) as { reason: string }).reason, 'too_many_connections');
    assert.equal(refused.headers['connection'], 'close');
    assert.equal(refused.headers['x-content-type-options'], 'nosniff');
    assert.ok(!refused.body.includes('CAP-'), 'no secrets past the cap');
    // The server closes the refused connection.
    await waitUntil(() => third.closed, 5_000, 'the refused connection closed by the server');
    // The held connections are still served.
    assert.equal((await open[0]!.request('/v1/keys', hdrs())).status, 200);
  });

  it('§5 gate order: connection cap (429) comes first, before proxy, Host, route, method and token', async () => {
    assert.equal(open.length, 2, 'the two held connections from the previous test');
    const extra = await KeepAliveConnection.open(port);
    try {
      const lines = ['POST /nope HTTP/1.1', 'Host: evil.example', 'X-Forwarded-For: 1.2.3.4', 'Content-Length: 0', '', ''].join('\r\n');
      extra.socket.write(lines);
      await waitUntil(() => extra.closed, 5_000, 'the refused connection closed by the server');
      const text = extra.received;
      const r = parseRawResponse(text);
      assert.equal(r?.status, 429, text.slice(0, 200));
      assert.equal((JSON.parse(r?.body ?? '{}') as { reason?: string }).reason, 'too_many_connections');
    } finally {
      await extra.close();
    }
  });

  it('§5.1 connection cap: after the held connections close, requests succeed again', async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    // The server sees the closes asynchronously: poll (bounded) until a request gets through.
    await waitUntil(async () => (await fa.agent.request('/v1/secrets')).status === 200, 10_000, 'a request served again', 100);
    const ok = await fa.agent.request('/v1/secrets');
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json(), samplePayload('CAP'));
    // And the cap still holds with fresh connections.
    const a = await KeepAliveConnection.open(port);
    const b = await KeepAliveConnection.open(port);
    open.push(a, b);
    assert.equal((await a.request('/v1/health', hdrs())).status, 200);
    assert.equal((await b.request('/v1/health', hdrs())).status, 200);
    const c = await KeepAliveConnection.open(port);
    open.push(c);
    assert.equal((await c.request('/v1/health', hdrs())).status, 429);
  });
});
