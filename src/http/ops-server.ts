/**
 * The operations listener (SPEC §8, CLEF_AGENT_OPS_ADDR): `GET /v1/health`, `GET /v1/ready` and
 * `GET /metrics`, nothing else, for kubelet probes and Prometheus, which reach the pod IP and so
 * cannot reach the 127.0.0.1-only secrets API. It shares the API's limits (listener.ts) but not its
 * routes: no secrets route exists here to be reached by any spelling of a path, and no token is
 * checked because none guards anything here.
 *
 * Two API gates are left out on purpose. The `Host` allow-list guards the secrets against DNS
 * rebinding; a probe or scrape sends the pod IP or a service name as `Host`, which no fixed list can
 * name, and what a rebinding page could read here (health, readiness, counters) is what the
 * listener exists to show. Proxy headers mark a forged request aimed at the secrets; in front of
 * this listener a proxy is normal (an ingress, a scrape through a gateway), and it reaches no
 * secret. A request with more than one `Host` is still refused: a smuggling sign on any listener.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ApiError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ServingMode } from '../serving/mode.js';
import type { RequestRecorder, RequestRoute } from '../telemetry/recorder.js';
import { createListener, hostCount } from './listener.js';
import { errorSummary, send, sendError, sendJson } from './respond.js';
import { ALLOWED_METHODS } from './routes.js';

type OpsRoute = 'health' | 'ready' | 'metrics';

/** Exact paths: no decoding, no normalising, so `//v1/health` or `/%6detrics` are simply unknown. */
const OPS_ROUTES: ReadonlyMap<string, OpsRoute> = new Map<string, OpsRoute>([
  ['/v1/health', 'health'],
  ['/v1/ready', 'ready'],
  ['/metrics', 'metrics'],
]);

export interface OpsOptions {
  readonly host: string;
  readonly port: number;
  readonly maxConnections: number;
  readonly mode: Pick<ServingMode, 'health' | 'ready'>;
  /** The Prometheus text of the moment. */
  readonly scrape: () => Promise<string>;
  readonly metrics: RequestRecorder;
  readonly log: Logger;
}

export interface OpsServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startOpsServer(o: OpsOptions): Promise<OpsServer> {
  const listener = createListener(o.maxConnections, (req, res) => {
    const start = performance.now();
    let route: RequestRoute = 'unmatched';
    res.once('close', () => o.metrics.request(route, res.statusCode, (performance.now() - start) / 1000));
    const matched = gate(req, res, listener.open(), o);
    if (matched === undefined) return;
    route = matched;
    answer(req, res, matched, o).catch((err: unknown) => {
      o.log.error({ event: 'request.failed', listener: 'ops', err: errorSummary(err) }, 'unexpected error while answering an operations request');
      if (!res.headersSent) send(req, res, 500, 'application/json', Buffer.from('{"error":"internal error","reason":"internal"}'));
      else res.destroy();
    });
  });
  const port = await listener.listen(o.port, o.host);
  return { host: o.host, port, close: () => listener.close() };
}

/** Connections → Host count → route → method; answers and returns undefined when a gate refuses. */
function gate(req: IncomingMessage, res: ServerResponse, open: number, o: OpsOptions): OpsRoute | undefined {
  if (open > o.maxConnections) {
    o.metrics.rejected('too_many_connections');
    sendError(req, res, new ApiError('too_many_connections', { headers: { Connection: 'close' } }));
    return undefined;
  }
  if (hostCount(req.rawHeaders) > 1) {
    sendError(req, res, new ApiError('invalid_host'));
    return undefined;
  }
  const target = req.url ?? '';
  const q = target.indexOf('?');
  const route = OPS_ROUTES.get(q >= 0 ? target.slice(0, q) : target);
  if (route === undefined) {
    sendError(req, res, new ApiError('not_found'));
    return undefined;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendError(req, res, new ApiError('method_not_allowed', { headers: { Allow: ALLOWED_METHODS } }));
    return undefined;
  }
  return route;
}

async function answer(req: IncomingMessage, res: ServerResponse, route: OpsRoute, o: OpsOptions): Promise<void> {
  switch (route) {
    case 'health':
      return sendJson(req, res, 200, o.mode.health());
    case 'ready': {
      const r = o.mode.ready();
      return sendJson(req, res, r.ready ? 200 : 503, r);
    }
    case 'metrics': {
      const text = await o.scrape();
      if (res.destroyed) return;
      return send(req, res, 200, 'prometheus', Buffer.from(text));
    }
  }
}
