/**
 * The proxy rules (SPEC §3: `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY` are honoured) for the clients
 * that do not run on undici: the AWS SDK's Node http handler, which KMS uses in the workers and in
 * `clef-agent pack`. The fetch transport (transport.ts) gets the same rules from undici's
 * `EnvHttpProxyAgent` plus its "loopback is never proxied" choice; undici keeps its matcher
 * private, so this module states those rules once for node:http, and test/e2e/kms-proxy-rules.test.ts
 * checks, case by case, that both paths decide alike.
 *
 * - `https:` goes through `https_proxy`/`HTTPS_PROXY`, else through the http proxy; `http:` through
 *   `http_proxy`/`HTTP_PROXY`. The lowercase name wins when set (even to ""), as in undici.
 * - `no_proxy`/`NO_PROXY`: entries split on commas or spaces; `*` alone turns proxying off; an
 *   entry matches its host and every subdomain (a leading `.` or `*.` is dropped); `host:port`
 *   matches that port only.
 * - Loopback (`localhost`, 127.0.0.0/8, `::1`) is always direct: a proxy cannot reach our loopback.
 */
import type { Agent as HttpAgent, ClientRequest } from 'node:http';
import { connect as netConnect, isIP, isIPv6, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { isLoopbackHost } from './net.js';

type Env = Readonly<Record<string, string | undefined>>;

const DEFAULT_PORTS: Readonly<Record<string, number>> = { 'http:': 80, 'https:': 443 };

/** The proxy variable that applies to a scheme, by name (for messages) and value. */
function proxySetting(protocol: string, env: Env = process.env): { readonly variable: string; readonly value: string } | undefined {
  const pick = (lower: string, upper: string): { variable: string; value: string } | undefined => {
    const variable = env[lower] !== undefined ? lower : upper;
    const value = env[variable];
    return value ? { variable, value } : undefined;
  };
  const http = pick('http_proxy', 'HTTP_PROXY');
  if (protocol === 'http:') return http;
  if (protocol === 'https:') return pick('https_proxy', 'HTTPS_PROXY') ?? http;
  return undefined;
}

/** True when `no_proxy`/`NO_PROXY` exempts this host and port. */
function noProxyMatches(target: URL, env: Env = process.env): boolean {
  const value = env['no_proxy'] ?? env['NO_PROXY'] ?? '';
  // `host` keeps IPv6 brackets, so `[::1]`-style entries compare as written.
  const hostname = target.host.replace(/:\d*$/, '').toLowerCase();
  const port = Number.parseInt(target.port, 10) || DEFAULT_PORTS[target.protocol] || 0;
  const entries = value.split(/[,\s]/).filter((e) => e !== '');
  if (entries.length === 0) return false;
  if (value === '*') return true;
  return entries.some((entry) => {
    const parsed = /^(.+):(\d+)$/.exec(entry);
    const host = (parsed?.[1] ?? entry).replace(/^\*?\./, '').toLowerCase();
    const entryPort = parsed?.[2] === undefined ? 0 : Number.parseInt(parsed[2], 10);
    if (entryPort !== 0 && entryPort !== port) return false;
    return hostname === host || hostname.endsWith(`.${host}`);
  });
}

/** True when a request to `target` connects directly: loopback, or exempted by NO_PROXY. */
function bypassesProxy(target: URL, env: Env = process.env): boolean {
  return isLoopbackHost(target.hostname) || noProxyMatches(target, env);
}

type ConnectOpts = Parameters<HttpsProxyAgent<string>['connect']>[1];

/**
 * https-proxy-agent (a CONNECT tunnel; TLS to the target inside it for https) that applies the
 * rules per connection: a host they exempt gets a plain direct socket instead. Deciding per
 * connection, not per client, covers whatever endpoint the SDK resolves (AWS_ENDPOINT_URL_KMS, the
 * regional default, FIPS) and any other host the same handler is asked to reach.
 */
class RuleProxyAgent extends HttpsProxyAgent<string> {
  constructor(
    proxy: URL,
    private readonly secure: boolean,
    private readonly tunnelTimeoutMs: number,
    private readonly env: Env,
  ) {
    // Keep-alive as the SDK's own agents do: JIT mode calls KMS on every request, and a pooled
    // tunnel saves the proxy round trip and the TLS handshake each time.
    super(proxy, { keepAlive: true, maxSockets: 50 });
  }

  /**
   * One agent per scheme, so the scheme is known. agent-base otherwise guesses from the call stack
   * when the request options carry no `protocol` (the SDK passes none), and guesses differently
   * when a socket is pooled (no https frame on the stack) than when it is looked up again: a
   * kept-alive socket would never be reused.
   */
  override isSecureEndpoint(options?: ConnectOpts): boolean {
    return typeof options?.secureEndpoint === 'boolean' ? options.secureEndpoint : this.secure;
  }

  override async connect(req: ClientRequest, opts: ConnectOpts): Promise<Socket> {
    const host = opts.host ?? '';
    const target = new URL(`${opts.secureEndpoint ? 'https' : 'http'}://${isIPv6(host) ? `[${host}]` : host}:${opts.port}`);
    if (!bypassesProxy(target, this.env)) return this.tunnel(req, opts, target.host);
    // The options are the request's: `path` is the HTTP path there, which net/tls would take for
    // an IPC socket path.
    const direct = { ...opts, path: undefined };
    if (!direct.secureEndpoint) return netConnect(direct);
    return tlsConnect({ ...direct, servername: direct.servername ?? (isIP(host) === 0 ? host : undefined) });
  }

  /**
   * A proxy that never answers CONNECT: the SDK's connection timeout gives up on the request, but
   * the socket to the proxy belongs to https-proxy-agent, which would keep it (and its file
   * descriptor) for as long as the proxy does. It opens that socket synchronously from
   * `connectOpts`, so an AbortSignal placed there for this one call bounds the tunnel set-up.
   */
  private async tunnel(req: ClientRequest, opts: ConnectOpts, host: string): Promise<Socket> {
    let status = 0;
    req.once('proxyConnect', (res: { statusCode?: number }) => (status = res.statusCode ?? 0));
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.tunnelTimeoutMs);
    const shared = this.connectOpts;
    this.connectOpts = { ...shared, signal: abort.signal };
    let pending: Promise<Socket>;
    try {
      pending = super.connect(req, opts);
    } finally {
      this.connectOpts = shared;
    }
    let socket: Socket;
    try {
      socket = await pending;
    } finally {
      // Connected (or failed): from here the socket's life is the request's and the pool's.
      clearTimeout(timer);
    }
    // A refused CONNECT comes back as a socket replaying the proxy's answer, which the client would
    // then read as the target's (an AWS client: "KMS answered HTTP 407" with the proxy's HTML).
    if (status !== 200) {
      socket.destroy();
      throw new ProxyTunnelError(`the proxy refused the tunnel to ${host} (HTTP ${status})`);
    }
    return socket;
  }
}

/** A proxy variable that is not an http(s) URL. Matched by `name`; the message is safe to show. */
export class ProxyConfigError extends Error {
  override readonly name = 'ProxyConfigError';
}

/** The proxy answered CONNECT with something else than 200. Matched by `name`; the message is safe to show. */
export class ProxyTunnelError extends Error {
  override readonly name = 'ProxyTunnelError';
}

export interface NodeProxyAgents {
  readonly httpAgent?: HttpAgent;
  readonly httpsAgent?: HttpAgent;
}

/**
 * The agents for a node:http client (the AWS SDK's `requestHandler.httpAgent`/`httpsAgent`), one
 * per scheme that has a proxy; none when no proxy variable is set, so the client keeps its own.
 * `tunnelTimeoutMs` bounds reaching the proxy and its answer to CONNECT (give the client's own
 * connection timeout). Throws a ProxyConfigError when a proxy variable is not an http(s) URL; the
 * message names the variable, never its value (it may carry proxy credentials).
 */
export function proxyAgents(tunnelTimeoutMs: number, env: Env = process.env): NodeProxyAgents {
  const make = (protocol: 'http:' | 'https:'): HttpAgent | undefined => {
    const setting = proxySetting(protocol, env);
    if (setting === undefined) return undefined;
    let proxy: URL;
    try {
      proxy = new URL(setting.value);
    } catch {
      throw new ProxyConfigError(`${setting.variable} is not a valid proxy URL`);
    }
    if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') throw new ProxyConfigError(`${setting.variable} must be an http:// or https:// proxy URL`);
    return new RuleProxyAgent(proxy, protocol === 'https:', tunnelTimeoutMs, env);
  };
  const httpAgent = make('http:');
  const httpsAgent = make('https:');
  return { ...(httpAgent === undefined ? {} : { httpAgent }), ...(httpsAgent === undefined ? {} : { httpsAgent }) };
}
