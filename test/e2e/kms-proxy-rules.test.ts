/**
 * One set of proxy rules for every outbound call. The KMS clients use common/proxy-rules.ts
 * (node:http agents); the fetch transport uses undici's EnvHttpProxyAgent plus "loopback is direct".
 * For each environment and target, both real paths are sent at a local forward proxy — the fetch
 * path through the transport's own dispatchers, the KMS path through the agents `proxyAgents()`
 * hands the AWS SDK — and whether the proxy saw a CONNECT must be the expected answer for both.
 * Direct attempts fail at a resolver that answers nothing, so no real DNS is used.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { isLoopbackHost } from '../../common/net.js';
import type { Resolver } from '../../workers/fetch/address.js';
import { ProxyConfigError, proxyAgents } from '../../common/proxy-rules.js';
import { directDispatcher, proxyConfigured, proxyDispatcher } from '../../workers/fetch/transport.js';
import { ForwardProxy } from '../../emulators/proxy.js';
import { closedPort } from '../kit/index.js';

const VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'];

let proxy: ForwardProxy;
/** Ports nothing listens on: the proxy's upstream connect fails at once, so does a direct loopback one. */
let p: number;
let q: number;

before(async () => {
  proxy = await new ForwardProxy().start();
  [p, q] = [await closedPort(), await closedPort()];
});
after(() => proxy.close());

const noAddress: Resolver = (hostname, _options, cb) => cb(Object.assign(new Error(`test: ${hostname} is not resolved here`), { code: 'ENOTFOUND' }), []);
const noAddressNode: LookupFunction = (hostname, _options, cb) =>
  cb(Object.assign(new Error(`test: ${hostname} is not resolved here`), { code: 'ENOTFOUND' }), '', 0);

function setEnv(env: Record<string, string>): void {
  for (const v of VARIABLES) delete process.env[v];
  Object.assign(process.env, env);
}

/** Did the proxy see the next attempt? */
async function sawProxy(attempt: () => Promise<unknown>): Promise<boolean> {
  const before = proxy.seen.length;
  await attempt().catch(() => undefined);
  return proxy.seen.length > before;
}

/** The fetch transport's choice (sharedDispatcher's, without its per-worker cache). */
function viaFetchPath(url: string): Promise<boolean> {
  const dispatcher = !isLoopbackHost(new URL(url).hostname) && proxyConfigured() ? proxyDispatcher(noAddress) : directDispatcher(noAddress);
  return sawProxy(async () => {
    try {
      const res = await request(url, { dispatcher, signal: AbortSignal.timeout(3_000) });
      await res.body.dump();
    } finally {
      await dispatcher.destroy();
    }
  });
}

/** What the AWS SDK's node:http handler does with `proxyAgents()`: no agent for a scheme means its own, direct. */
function viaKmsPath(url: string): Promise<boolean> {
  const secure = new URL(url).protocol === 'https:';
  const agents = proxyAgents(2_000);
  const agent = secure ? agents.httpsAgent : agents.httpAgent;
  return sawProxy(() =>
    new Promise<void>((resolve, reject) => {
      const req = (secure ? https : http).request(url, { ...(agent === undefined ? {} : { agent }), lookup: noAddressNode, timeout: 3_000 }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject).on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    }).finally(() => {
      agents.httpAgent?.destroy();
      agents.httpsAgent?.destroy();
    }),
  );
}

interface Case {
  readonly env: Record<string, string>;
  /** Target → goes through the proxy? */
  readonly targets: Record<string, boolean>;
}

describe('the KMS clients and the fetch transport apply the same proxy rules', () => {
  const cases = (): [string, Case][] => [
    ['no proxy variable', { env: { NO_PROXY: 'kms.test' }, targets: { [`https://kms.test:${p}`]: false, [`http://kms.test:${p}`]: false } }],
    [
      'HTTPS_PROXY: https only; loopback is always direct',
      {
        env: { HTTPS_PROXY: proxy.url },
        targets: {
          [`https://kms.test:${p}`]: true,
          [`http://kms.test:${p}`]: false,
          [`https://127.0.0.1:${p}`]: false,
          [`https://127.9.8.7:${p}`]: false,
          [`https://localhost:${p}`]: false,
          [`https://[::1]:${p}`]: false,
        },
      },
    ],
    [
      'HTTP_PROXY: http, and https too when HTTPS_PROXY is unset',
      { env: { HTTP_PROXY: proxy.url }, targets: { [`https://kms.test:${p}`]: true, [`http://kms.test:${p}`]: true } },
    ],
    [
      'NO_PROXY=kms.test: the host and its subdomains, not look-alikes',
      {
        env: { HTTPS_PROXY: proxy.url, NO_PROXY: 'kms.test' },
        targets: {
          [`https://kms.test:${p}`]: false,
          [`https://eu.kms.test:${p}`]: false,
          [`https://xkms.test:${p}`]: true,
          [`https://kms.test.example:${p}`]: true,
        },
      },
    ],
    [
      'NO_PROXY=.test: a domain suffix',
      { env: { HTTPS_PROXY: proxy.url, NO_PROXY: '.test' }, targets: { [`https://kms.test:${p}`]: false, [`https://kms.example:${p}`]: true } },
    ],
    [
      'NO_PROXY=*.amazonaws.com: the wildcard form covers the domain itself too',
      {
        env: { HTTPS_PROXY: proxy.url, NO_PROXY: '*.amazonaws.com' },
        targets: { [`https://kms.eu-west-1.amazonaws.com:${p}`]: false, [`https://amazonaws.com:${p}`]: false, [`https://kms.test:${p}`]: true },
      },
    ],
    [
      'NO_PROXY=host:port: that port only',
      { env: { HTTPS_PROXY: proxy.url, NO_PROXY: `kms.test:${p}` }, targets: { [`https://kms.test:${p}`]: false, [`https://kms.test:${q}`]: true } },
    ],
    ['NO_PROXY=*: nothing is proxied', { env: { HTTPS_PROXY: proxy.url, NO_PROXY: '*' }, targets: { [`https://kms.test:${p}`]: false } }],
    [
      'NO_PROXY as a list with spaces, any case',
      { env: { HTTPS_PROXY: proxy.url, NO_PROXY: 'a.example, KMS.TEST' }, targets: { [`https://kms.test:${p}`]: false, [`https://b.example:${p}`]: true } },
    ],
    [
      'https_proxy wins over HTTPS_PROXY',
      { env: { https_proxy: proxy.url, HTTPS_PROXY: `http://127.0.0.1:${q}` }, targets: { [`https://kms.test:${p}`]: true } },
    ],
    [
      'no_proxy wins over NO_PROXY, even empty',
      { env: { HTTPS_PROXY: proxy.url, no_proxy: '', NO_PROXY: 'kms.test' }, targets: { [`https://kms.test:${p}`]: true } },
    ],
  ];

  it('each environment and target: fetch path and KMS path agree with the expected answer', { timeout: 60_000 }, async () => {
    const saved = Object.fromEntries(VARIABLES.map((v) => [v, process.env[v]]));
    try {
      for (const [name, c] of cases()) {
        setEnv(c.env);
        for (const [url, proxied] of Object.entries(c.targets)) {
          const what = `${name}: ${url}`;
          assert.equal(await viaFetchPath(url), proxied, `fetch transport, ${what}`);
          assert.equal(await viaKmsPath(url), proxied, `KMS agents, ${what}`);
        }
      }
    } finally {
      for (const v of VARIABLES) delete process.env[v];
      for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v;
    }
  });

  it('a proxy variable that is not an http(s) URL is refused by name, without its value', () => {
    for (const [env, message] of [
      [{ HTTPS_PROXY: 'socks5://user:Hidden-Pass-1@proxy:1080' }, 'HTTPS_PROXY must be an http:// or https:// proxy URL'],
      [{ https_proxy: 'not a url Hidden-Pass-1' }, 'https_proxy is not a valid proxy URL'],
      [{ HTTP_PROXY: '::Hidden-Pass-1' }, 'HTTP_PROXY is not a valid proxy URL'],
    ] as const) {
      assert.throws(
        () => proxyAgents(1_000, env),
        (e: unknown) => e instanceof ProxyConfigError && e.message === message && !e.message.includes('Hidden-Pass-1'),
      );
    }
  });
});
