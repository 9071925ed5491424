// Types for the undici modules workers/fetch/undici.ts imports by path (undici has no exports map).
declare module 'undici/lib/dispatcher/agent.js' {
  import { Agent } from 'undici';
  export default Agent;
}
declare module 'undici/lib/dispatcher/env-http-proxy-agent.js' {
  import { EnvHttpProxyAgent } from 'undici';
  export default EnvHttpProxyAgent;
}
declare module 'undici/lib/dispatcher/dispatcher.js' {
  import { Dispatcher } from 'undici';
  export default Dispatcher;
}
declare module 'undici/lib/api/index.js' {
  /** request, stream, pipeline, upgrade and connect, which undici's index puts on Dispatcher.prototype. */
  const api: Readonly<Record<string, unknown>>;
  export default api;
}
