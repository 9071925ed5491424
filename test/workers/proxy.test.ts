/**
 * HTTPS_PROXY / HTTP_PROXY are honoured (SPEC §3) through undici's EnvHttpProxyAgent. Its own file:
 * the proxy variables are read once per process when the proxied dispatcher is first built.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { fetchHttp } from '../../workers/fetch/http.js';
import { sleep } from '../kit/index.js';

let target: Server;
let proxy: Server;
const tunnels: string[] = [];
/** When set, the proxy closes each CONNECT without answering (a proxy that does not tunnel). */
let dropConnects = false;

before(async () => {
  target = createServer((req, res) => res.end(`hello ${req.headers.host ?? ''}`));
  // A CONNECT proxy that sends every tunnel to the local target, whatever host was asked for.
  proxy = createServer((_req, res) => res.writeHead(502).end());
  proxy.on('connect', (req, socket, head) => {
    tunnels.push(req.url ?? '');
    if (dropConnects) {
      socket.destroy();
      return;
    }
    const up = connect((target.address() as AddressInfo).port, '127.0.0.1', () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  process.env['HTTP_PROXY'] = url;
  process.env['HTTPS_PROXY'] = url;
  delete process.env['NO_PROXY'];
  delete process.env['no_proxy'];
});

after(async () => {
  target.closeAllConnections();
  proxy.closeAllConnections();
  await Promise.all([new Promise((r) => target.close(r)), new Promise((r) => proxy.close(r))]);
});

test('a non-loopback source is fetched through the configured proxy', async () => {
  const port = (target.address() as AddressInfo).port;
  // `service.test` does not resolve: only the proxy can have reached it.
  const r = await fetchHttp(`http://service.test:${port}/a.json`, { timeoutMs: 3000, maxBytes: 1024, retries: 0, allowHttp: true }, undefined);
  assert.ok(!('ok' in r) && r.kind === 'bytes', JSON.stringify(r));
  assert.equal(Buffer.from(r.bytes).toString(), `hello service.test:${port}`);
  assert.deepEqual(tunnels, [`service.test:${port}`]);
});

test(
  'a proxy that closes CONNECT without answering: fetch_timeout naming the proxy, no reconnect storm left behind, the next fetch works',
  { timeout: 20_000 },
  async () => {
    const port = (target.address() as AddressInfo).port;
    const policy = { timeoutMs: 500, maxBytes: 1024, retries: 1, allowHttp: true };
    // No kept-alive tunnel from the test above: the next request must CONNECT again.
    target.closeAllConnections();
    await sleep(100);
    dropConnects = true;
    try {
      // undici 7 retries such a CONNECT in a tight loop that the abort does not stop.
      const r = await fetchHttp(`http://service.test:${port}/a.json`, policy, undefined);
      assert.ok('ok' in r && r.code === 'fetch_timeout', JSON.stringify(r));
      // The fetch itself settles on its abort, but the loop under it would go on reconnecting.
      // A CONNECT already on the wire when the pool was dropped may still land; a storm is hundreds.
      await sleep(50);
      const settled = tunnels.length;
      await sleep(300);
      assert.ok(tunnels.length - settled <= 1, `no reconnecting after the fetch gave up (${tunnels.length - settled} more CONNECTs)`);
      assert.match(r.message, /within 500 ms through the proxy/);
    } finally {
      dropConnects = false;
    }
    const again = await fetchHttp(`http://service.test:${port}/a.json`, policy, undefined);
    assert.ok(!('ok' in again) && again.kind === 'bytes', JSON.stringify(again));
  },
);
