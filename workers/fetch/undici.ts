/**
 * The two undici dispatchers the transport uses (Agent, EnvHttpProxyAgent), without undici's index:
 * the index loads all of undici (its fetch, WebSocket, cache, mock and interceptor modules), which
 * measured as most of a worker's first HTTP fetch at start-up (bench/README.md "Lambda cold start").
 * The index also installs undici's request API on `Dispatcher.prototype`, and ProxyAgent's CONNECT
 * tunnel calls `connect` from it, so this module does that too, once, before either is used. The
 * proxy tests (test/workers/proxy.test.ts) fail without it. Types: undici-dispatchers.d.ts.
 */
import Agent from 'undici/lib/dispatcher/agent.js';
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import EnvHttpProxyAgent from 'undici/lib/dispatcher/env-http-proxy-agent.js';
import api from 'undici/lib/api/index.js';

Object.assign(Dispatcher.prototype, api);

export { Agent, EnvHttpProxyAgent };
