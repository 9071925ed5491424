/**
 * node:http, loaded with require() instead of an ES import. On the Node the agent ships on (22 and
 * later), an ES import of node:http makes Node read every export to build the module namespace,
 * and its lazy `WebSocket`, `CloseEvent` and `MessageEvent` getters load Node's whole built-in
 * fetch implementation (undici): measured 20-45 ms of a cold start on Node 26 (bench/README.md
 * "Lambda cold start"), for nothing the agent uses. require() hands back the exports object without
 * reading them. Types come from `import type … from 'node:http'`, which is erased.
 */
import { createRequire } from 'node:module';
import type * as Http from 'node:http';

export const http = createRequire(import.meta.url)('node:http') as typeof Http;
