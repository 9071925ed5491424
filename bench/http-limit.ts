/**
 * The HTTP limit: a bare node:http server answering every request with the same bytes the agent
 * answers `/v1/secrets` with (same body, same headers), on 127.0.0.1, with the agent's keep-alive
 * timeout. No routing, no auth, no cache: what node:http alone costs on this machine.
 *
 * Started by the bench (pinned to the agent's cores) as `node http-limit.js <json>` with an IPC
 * channel; sends `{ port }` once listening, exits when the bench disconnects, on SIGTERM, or after
 * a hard cap of 30 minutes, whichever comes first.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';

interface LimitServerArgs {
  readonly bodyFile: string;
  readonly headers: Readonly<Record<string, string>>;
}

const args = JSON.parse(process.argv[2] ?? '{}') as LimitServerArgs;
const body = readFileSync(args.bodyFile);
const headers = { ...args.headers, 'Content-Length': String(body.length) };

const server = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  // Read (and discard) any request body, as the agent's server does implicitly.
  req.resume();
  res.writeHead(200, headers);
  res.end(body);
});

const stop = (): void => {
  server.closeAllConnections();
  server.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('disconnect', stop);
setTimeout(stop, 30 * 60_000).unref();

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.send?.({ port });
});
