/**
 * A forward proxy for tests: HTTP CONNECT tunnels and plain absolute-form requests. Whatever host
 * a client asks for, the proxy connects to 127.0.0.1 on the requested port, so names that do not
 * resolve (`s3.test`, `github.test`) prove the request went through the proxy. `seen` lists every
 * request (`CONNECT host:port` or `GET http://…`). With `stall` set, CONNECTs are recorded and
 * never answered (`stalledOpen` counts those the client has not closed yet); with `refuse` set,
 * they are answered with that status and an HTML page, as a proxy denying access does.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { LocalServer } from './local-server.js';

export class ForwardProxy extends LocalServer {
  readonly seen: string[] = [];
  stall = false;
  stalledOpen = 0;
  refuse: number | undefined;

  constructor() {
    super();
    this.server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => this.tunnel(req, socket, head));
  }

  /** The HTTP(S)_PROXY value. */
  get url(): string {
    return this.endpoint;
  }

  private tunnel(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.seen.push(`CONNECT ${req.url ?? ''}`);
    if (this.refuse !== undefined) {
      const page = '<html><body>Access denied by the test proxy</body></html>';
      socket.end(`HTTP/1.1 ${this.refuse} Refused\r\nContent-Type: text/html\r\nContent-Length: ${page.length}\r\n\r\n${page}`);
      return;
    }
    if (this.stall) {
      this.stalledOpen++;
      socket.on('close', () => this.stalledOpen--);
      socket.on('error', () => undefined);
      // The http server leaves a detached socket half-open when the client ends it.
      socket.on('end', () => socket.destroy());
      return;
    }
    const port = Number(/:(\d+)$/.exec(req.url ?? '')?.[1] ?? '443');
    let established = false;
    const up = connect(port, '127.0.0.1', () => {
      established = true;
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    this.track(up);
    // Like a real proxy, answer when the target cannot be reached (undici reconnects at once, without
    // end, to a proxy that just closes a CONNECT).
    up.on('error', () => (established ? socket.destroy() : socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n')));
    socket.on('error', () => up.destroy());
  }

  protected handle(req: IncomingMessage, res: ServerResponse): void {
    this.seen.push(`${req.method ?? 'GET'} ${req.url ?? ''}`);
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      return void res.writeHead(400).end();
    }
    const up = http.request(
      { host: '127.0.0.1', port: Number(target.port || '80'), path: `${target.pathname}${target.search}`, method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  }
}
