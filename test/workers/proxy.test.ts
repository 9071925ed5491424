/**
 * HTTPS_PROXY / HTTP_PROXY are honoured (SPEC §3) through undici's EnvHttpProxyAgent. Its own file:
 * the proxy variables are read once per process when the proxied dispatcher is first built.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { fetchHttp } from '../../workers/fetch/http.js';

let target: Server;
let proxy: Server;
const tunnels: string[] = [];

before(async () => {
  target = createServer((req, res) => res.end(`hello ${req.headers.host ?? ''}`));
  // A CONNECT proxy that sends every tunnel to the local target, whatever host was asked for.
  proxy = createServer((_req, res) => res.writeHead(502).end());
  proxy.on('connect', (req, socket, head) => {
    tunnels.push(req.url ?? '');
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
