/**
 * `clef-agent check` (SPEC §9), run as the built CLI in a child process the way a probe runs it:
 * against real agents (ready, revoked), nothing listening, a server that accepts and never
 * answers, servers that are not the agent, and usage errors. Assertions are on exit codes and
 * messages, never on elapsed time.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { artifactJson, samplePayload } from '../helpers/artifacts.js';
import { TOKEN, startFileAgent, type FileAgent } from '../helpers/http-fixtures.js';
import { MAIN, closedPort, runNode, type RunResult } from '../kit/index.js';

function check(args: readonly string[], env: Record<string, string> = {}): Promise<RunResult> {
  return runNode(MAIN, ['check', ...args], { env, timeoutMs: 15_000 });
}

/** A loopback server for the test's lifetime; resolves with its port. */
async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

async function close(server: net.Server): Promise<void> {
  if ('closeAllConnections' in server) (server as http.Server).closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

describe('clef-agent check against a real agent', { timeout: 120_000 }, () => {
  const agents: FileAgent[] = [];
  /** Started one by one and closed in `after` even when the other failed to start. */
  async function start(o: Parameters<typeof startFileAgent>[0]): Promise<FileAgent> {
    const fa = await startFileAgent(o);
    agents.push(fa);
    return fa;
  }
  let ready: FileAgent;
  let revoked: FileAgent;
  before(async () => {
    ready = await start({ payload: samplePayload('CHECK-R') });
    revoked = await start({ payload: samplePayload('CHECK-V'), env: { CLEF_AGENT_POLL_INTERVAL: '5' } });
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.close()));
  });

  it('exits 0 when the agent is ready (--port, --port=N, CLEF_AGENT_PORT, --ready)', async () => {
    const port = String(ready.agent.port);
    for (const [args, env] of [
      [['--port', port], {}],
      [[`--port=${port}`, '--ready'], {}],
      [[], { CLEF_AGENT_PORT: port }],
    ] as const) {
      const r = await check(args, env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `clef-agent check: ready (127.0.0.1:${port})\n`);
      assert.equal(r.stderr, '');
    }
  });

  it("reads none of the agent's configuration: a broken config and a token in the environment change nothing, and no token is printed", async () => {
    const env = { CLEF_AGENT_TOKEN: TOKEN, CLEF_AGENT_CACHE_TTL: 'nonsense', CLEF_AGENT_SOURCE: '', CLEF_AGENT_PORT: String(ready.agent.port) };
    const r = await check([], env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!(r.stdout + r.stderr).includes(TOKEN));
    assert.ok(!(r.stdout + r.stderr).includes('CHECK-R'), 'no secret');
  });

  it('--health exits 0 while the agent answers, and names its state', async () => {
    const r = await check(['--health', '--port', String(ready.agent.port)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `clef-agent check: healthy (127.0.0.1:${ready.agent.port}, state ok)\n`);
  });

  it('exits 1 with the reason when the agent is not ready (artifact revoked); --health still exits 0', async () => {
    const port = String(revoked.agent.port);
    assert.equal((await check(['--port', port])).code, 0, 'ready before the revocation');
    // The kill signal: the same source now holds a revoked artifact, picked up by the next poll.
    writeFileSync(
      revoked.artifactPath,
      await artifactJson({ recipient: revoked.key.recipient, payload: samplePayload('CHECK-V'), revokedAt: new Date().toISOString() }),
    );
    await revoked.agent.waitForLog((l) => l.event === 'artifact.revoked', 60_000);
    const r = await check(['--port', port]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'clef-agent check: not ready (revoked)\n');
    const h = await check(['--health', '--port', port]);
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /state revoked/);
  });
});

describe('clef-agent check without an agent', { timeout: 60_000 }, () => {
  it('exits 1 with "connection refused" when nothing listens on the port', async () => {
    const port = await closedPort();
    for (const args of [
      ['--port', String(port)],
      ['--health', '--port', String(port)],
    ]) {
      const r = await check(args);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`^clef-agent check: connection refused on 127\\.0\\.0\\.1:${port}\\b`));
    }
  });

  it('exits 1 within its bound when a server accepts the connection and never answers', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => sockets.push(s));
    const port = await listen(server);
    try {
      const r = await check(['--port', String(port)]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `clef-agent check: no answer within 1000 ms from 127.0.0.1:${port}\n`);
      assert.ok(sockets.length >= 1, 'the probe did connect');
    } finally {
      for (const s of sockets) s.destroy();
      await close(server);
    }
  });

  it('exits 1 when the connection is reset before an answer', async () => {
    const server = net.createServer((s) => s.resetAndDestroy());
    const port = await listen(server);
    try {
      const r = await check(['--port', String(port)]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`^clef-agent check: no answer from 127\\.0\\.0\\.1:${port}: [A-Z_]+\\n$`));
    } finally {
      await close(server);
    }
  });

  it('exits 1 for a server that is not the agent, and echoes only a reason that looks like a code', async () => {
    const answers: Record<string, [number, string]> = {
      '/v1/ready': [200, 'hello'],
      '/v1/health': [503, JSON.stringify({ reason: `leak ${TOKEN}` })],
    };
    const server = http.createServer((req, res) => {
      const [status, body] = answers[req.url ?? ''] ?? [404, '{"reason":"not_found"}'];
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
    const port = await listen(server);
    try {
      const r = await check(['--port', String(port)]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^clef-agent check: unexpected answer from .*: 200 without the agent's ready body/);
      const h = await check(['--health', '--port', String(port)]);
      assert.equal(h.code, 1);
      assert.equal(h.stderr, 'clef-agent check: not healthy (HTTP 503)\n');
      assert.ok(!h.stderr.includes(TOKEN));
    } finally {
      await close(server);
    }
  });
});

describe('clef-agent check usage errors', () => {
  it('a bad --port or CLEF_AGENT_PORT is a usage error: exit 2, the reason and the usage on stderr', async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--port', '0'], {}, /--port must be an integer from 1 to 65535 \(it is "0"\)/],
      [['--port', '65536'], {}, /--port must be an integer from 1 to 65535/],
      [['--port=abc'], {}, /--port must be an integer from 1 to 65535 \(it is "abc"\)/],
      [['--port', '-1'], {}, /--port must be an integer/],
      [['--port', '1e3'], {}, /--port must be an integer/],
      [['--port='], {}, /--port must be an integer from 1 to 65535 \(it is empty\)/],
      [['--port'], {}, /--port needs a value/],
      [['--port', '1', '--port', '2'], {}, /--port given more than once/],
      [[], { CLEF_AGENT_PORT: '0' }, /CLEF_AGENT_PORT must be an integer from 1 to 65535 \(it is "0"\); fix it or pass --port N/],
      [[], { CLEF_AGENT_PORT: 'http' }, /CLEF_AGENT_PORT must be an integer/],
      [['--ready', '--health'], {}, /--ready and --health are exclusive/],
      [['--bogus'], {}, /unknown flag "--bogus"/],
      [['extra'], {}, /unexpected argument/],
    ];
    for (const [args, env, message] of cases) {
      const r = await check(args, env);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^clef-agent check: /);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /Usage: clef-agent check \[--ready \| --health\] \[--port N \| --socket PATH\]/);
    }
  });

  it('--port wins over CLEF_AGENT_PORT, which is then not read', async () => {
    const port = await closedPort();
    const r = await check(['--port', String(port)], { CLEF_AGENT_PORT: 'not-a-port' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /connection refused/);
  });
});

describe("the commands' import graphs stay small", () => {
  /** The module specifiers a compiled file imports at load time (`import … from`), and those it imports on demand (`import()`). */
  function imports(rel: string): { readonly loaded: string[]; readonly onDemand: string[] } {
    const text = readFileSync(fileURLToPath(new URL(`../../src/${rel}`, import.meta.url)), 'utf8');
    return {
      loaded: [...text.matchAll(/^import (?:[^;]*? from )?'([^']+)';$/gm)].map((m) => m[1] ?? ''),
      onDemand: [...text.matchAll(/import\('([^']+)'\)/g)].map((m) => m[1] ?? ''),
    };
  }

  it('main.js loads only the usage texts before dispatching; check.js only node:http (by require) and the usage texts', () => {
    const main = imports('main.js');
    assert.deepEqual(main.loaded, ['./cli/usage.js']);
    assert.deepEqual(main.onDemand.sort(), [
      '../tools/loadtest/index.js',
      '../tools/pack/command.js',
      './cli/check.js',
      './cli/exec.js',
      './cli/serve.js',
      './cli/version.js',
    ]);
    assert.deepEqual(imports('cli/check.js'), { loaded: ['../http/node-http.js', './usage.js'], onDemand: [] });
    assert.deepEqual(imports('http/node-http.js'), { loaded: ['node:module'], onDemand: [] });
    assert.deepEqual(imports('cli/usage.js'), { loaded: [], onDemand: [] });
  });

  it('serve and exec start the worker pool before loading the rest of the agent: early-start.js loads only the pool and its guess first', () => {
    // What a cold start (Lambda init) overlaps: the workers start while the configuration and serve-agent.js load.
    assert.deepEqual(imports('cli/serve.js'), { loaded: ['./early-start.js'], onDemand: ['./serve-agent.js'] });
    assert.deepEqual(imports('cli/early-start.js'), {
      loaded: ['node:inspector', '../lifecycle/start-signals.js', '../pool.js', '../pool-guess.js'],
      // The configuration once the guessed pool started, the Lambda client after it; the logger and
      // lifecycle only to report an invalid configuration.
      onDemand: ['../config/index.js', '../lifecycle/extensions-api.js', '../log.js', '../lifecycle/lambda.js'],
    });
    // The guess reads the raw values without the configuration's modules (their builtins are what it saves).
    assert.deepEqual(imports('pool-guess.js').loaded, ['node:path', '../common/limits.js', './config/cpus.js']);
    const exec = imports('cli/exec.js');
    assert.deepEqual(exec.loaded, ['../exec/args.js', './early-start.js', './usage.js']);
    assert.deepEqual(exec.onDemand.sort(), ['../exec/command.js', './prepare.js']);
  });
});
