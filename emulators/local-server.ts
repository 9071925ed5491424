/**
 * What every emulator shares: an http (or, given a certificate, https) server on 127.0.0.1 that
 * tracks its connections, so `close()` never waits on a client that keeps one open and a test can
 * drop them all mid-request.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

/** A server certificate and its key (PEM), e.g. from test-tls.ts. */
export interface ServerTls {
  readonly keyPem: string;
  readonly certPem: string;
}

export abstract class LocalServer {
  protected readonly server: http.Server;
  /** Open connections (subclasses add other sockets they own, e.g. a proxy's upstream ones). */
  protected readonly sockets = new Set<Socket>();
  private boundPort = 0;

  constructor(private readonly tls?: ServerTls) {
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    this.server = tls === undefined ? http.createServer(handler) : https.createServer({ key: tls.keyPem, cert: tls.certPem }, handler);
    // The TCP socket, also under TLS: destroying it drops the connection whatever state it is in.
    this.server.on('connection', (s: Socket) => this.track(s));
  }

  protected abstract handle(req: IncomingMessage, res: ServerResponse): void | Promise<void>;

  /** Listens on a free port the first time, and on the same port after `refuseConnections()`. */
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(this.boundPort, '127.0.0.1', resolve));
    this.boundPort = (this.server.address() as AddressInfo).port;
    return this;
  }

  get port(): number {
    return this.boundPort;
  }

  /** `http(s)://127.0.0.1:<port>`. */
  get endpoint(): string {
    return `${this.tls === undefined ? 'http' : 'https'}://127.0.0.1:${this.boundPort}`;
  }

  /** Destroys every open connection; the server keeps listening. */
  dropAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  /** Drops every connection and stops listening (clients get ECONNREFUSED) until `start()` listens again. */
  async refuseConnections(): Promise<void> {
    this.dropAll();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async close(): Promise<void> {
    await this.refuseConnections();
  }

  protected track(s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
  }
}
