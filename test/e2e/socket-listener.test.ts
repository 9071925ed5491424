/**
 * SPEC §10.4 the Unix socket listener, against the real agent process over real HTTP on the socket
 * (node:http `socketPath`): the socket's mode and owner, every route in cached and JIT mode, the
 * token and Host gates on the socket, the shared connection cap, TCP off (nothing listening on
 * TCP), `check` over the socket, removal on a clean stop, and what the agent does with what it
 * finds at the path (a symlink, a file, a live socket, a dead one).
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, linkSync, lstatSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ageKeyPair, artifactJson, samplePayload } from '../helpers/artifacts.js';
import { ROUTES, SECRET_ROUTES, TOKEN, startFileAgent, type FileAgent } from '../helpers/http-fixtures.js';
import { AgentProcess, KeepAliveConnection, MAIN, listeningSockets, runNode, socketRequest, suiteTempDirs, type RunResult } from '../kit/index.js';

/** A uid that is neither root nor the agent's (the agent runs as root here). */
const OTHER_UID = 12345;

const PAYLOAD = samplePayload('SOCK');

function check(args: readonly string[], env: Record<string, string> = {}): Promise<RunResult> {
  return runNode(MAIN, ['check', ...args], { env, timeoutMs: 15_000 });
}

describe('§10.4 Unix socket alongside TCP (cached mode)', { timeout: 60_000 }, () => {
  const dirs = suiteTempDirs('clef-sock-');
  let fa: FileAgent;
  let sock: string;
  before(async () => {
    sock = join(dirs.make(), 'agent.sock');
    fa = await startFileAgent({ payload: PAYLOAD, env: { CLEF_AGENT_SOCKET: sock } });
  });
  after(async () => {
    await fa?.close();
  });

  it('§10.4 the socket is created with mode 0660, owned by the agent user, and logged', () => {
    const st = lstatSync(sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o7777, 0o660);
    assert.equal(st.uid, process.getuid?.());
    const line = fa.agent.logs().find((l) => l.event === 'listening');
    assert.equal(line?.['socket'], sock);
    assert.equal(line?.['port'], fa.agent.port, 'TCP still listens');
  });

  it('§10.4 every route answers on the socket as on TCP (GET and HEAD)', async () => {
    for (const route of ROUTES) {
      const s = await socketRequest(sock, route, { token: TOKEN });
      const t = await fa.agent.request(route);
      assert.equal(s.status, 200, `${route}: ${s.body}`);
      assert.equal(s.headers['content-type'], t.headers['content-type'], route);
      if (route !== '/v1/health') assert.equal(s.body, t.body, route);
      const head = await socketRequest(sock, route, { token: TOKEN, method: 'HEAD' });
      assert.equal(head.status, 200, route);
      assert.equal(head.body, '');
    }
    assert.deepEqual((await socketRequest(sock, '/v1/secrets', { token: TOKEN })).json(), PAYLOAD);
    for (const route of SECRET_ROUTES) assert.equal((await socketRequest(sock, route, { token: TOKEN })).headers['cache-control'], 'no-store');
  });

  it('§10.4 the token check still applies on the socket: missing or wrong → 401', async () => {
    for (const route of SECRET_ROUTES) {
      const none = await socketRequest(sock, route);
      assert.equal(none.status, 401);
      assert.equal(none.json<{ reason: string }>().reason, 'unauthorized');
      assert.equal((await socketRequest(sock, route, { token: 'f'.repeat(64) })).status, 401);
      assert.ok(!none.body.includes('SOCK-'));
    }
  });

  it('§10.4 Host on the socket: localhost or 127.0.0.1 without a port; any port or other name → 403', async () => {
    for (const host of ['localhost', 'LOCALHOST', '127.0.0.1']) {
      const r = await socketRequest(sock, '/v1/keys', { token: TOKEN, headers: { host } });
      assert.equal(r.status, 200, host);
    }
    for (const host of [`localhost:${fa.agent.port}`, `127.0.0.1:${fa.agent.port}`, 'localhost:80', 'evil.example', 'localhost.evil.example', 'unix']) {
      const r = await socketRequest(sock, '/v1/keys', { token: TOKEN, headers: { host } });
      assert.equal(r.status, 403, host);
      assert.equal(r.json<{ reason: string }>().reason, 'forbidden_host');
    }
    const none = await socketRequest(sock, '/v1/health', { headers: { host: null } });
    assert.ok(none.status === 400 || none.status === 403, `no Host: ${none.status}`);
    // The proxy gate comes before Host, on the socket as on TCP.
    const proxied = await socketRequest(sock, '/v1/secrets', { token: TOKEN, headers: { 'x-forwarded-for': '10.0.0.1' } });
    assert.equal(proxied.status, 400);
    assert.equal(proxied.json<{ reason: string }>().reason, 'proxied_request');
  });

  it('§9/§10.4 check over the socket: --socket PATH, --socket=PATH, CLEF_AGENT_SOCKET; exclusive with --port', async () => {
    for (const [args, env] of [
      [['--socket', sock], {}],
      [[`--socket=${sock}`, '--health'], {}],
      [[], { CLEF_AGENT_SOCKET: sock }],
    ] as const) {
      const r = await check(args, env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^clef-agent check: (ready|healthy) \\(unix:${sock.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    }
    const both = await check(['--socket', sock, '--port', String(fa.agent.port)]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--port and --socket are exclusive/);
    const missing = await check(['--socket', join(sock, '..', 'absent.sock')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no socket at unix:/);
  });

  it('§10.4 a clean stop removes the socket file', async () => {
    assert.equal(await fa.agent.stop(), 0, fa.agent.output);
    assert.equal(existsSync(sock), false);
  });
});

describe('§10.4 Unix socket only (CLEF_AGENT_PORT=off), JIT mode, CLEF_AGENT_SOCKET_MODE=0600', { timeout: 60_000 }, () => {
  const dirs = suiteTempDirs('clef-sock-');
  let fa: FileAgent;
  let sock: string;
  before(async () => {
    sock = join(dirs.make(), 'jit.sock');
    fa = await startFileAgent({
      payload: PAYLOAD,
      env: { CLEF_AGENT_PORT: 'off', CLEF_AGENT_SOCKET: sock, CLEF_AGENT_SOCKET_MODE: '0600', CLEF_AGENT_CACHE_TTL: '0' },
    });
  });
  after(async () => {
    await fa?.close();
  });

  it('§10.4 TCP off: the agent listens on no TCP port at all, and logs the socket only', () => {
    const pid = fa.agent.child.pid;
    assert.ok(pid);
    assert.deepEqual(listeningSockets(pid), []);
    const line = fa.agent.logs().find((l) => l.event === 'listening');
    assert.equal(line?.['socket'], sock);
    assert.equal(line?.['port'], undefined);
    assert.equal(lstatSync(sock).mode & 0o7777, 0o600);
  });

  it('§10.4 every route answers on the socket in JIT mode', async () => {
    const health = await socketRequest(sock, '/v1/health');
    assert.equal(health.status, 200);
    assert.equal(health.json<{ mode: string }>().mode, 'jit');
    assert.deepEqual((await socketRequest(sock, '/v1/ready')).json(), { ready: true });
    assert.deepEqual((await socketRequest(sock, '/v1/secrets', { token: TOKEN })).json(), PAYLOAD);
    assert.deepEqual((await socketRequest(sock, '/v1/keys', { token: TOKEN })).json(), [
      'app__API_KEY',
      'app__DATABASE_URL',
      'payments__API_KEY',
      'payments__STRIPE_KEY',
    ]);
    const one = await socketRequest(sock, '/v1/secrets/app%2FDATABASE_URL', { token: TOKEN });
    assert.deepEqual(one.json(), { key: 'app__DATABASE_URL', value: PAYLOAD['app']?.['DATABASE_URL'] });
    const plain = await socketRequest(sock, '/v1/secrets/STRIPE_KEY', { token: TOKEN, headers: { accept: 'text/plain' } });
    assert.equal(plain.body, PAYLOAD['payments']?.['STRIPE_KEY']);
    const ambiguous = await socketRequest(sock, '/v1/secrets/API_KEY', { token: TOKEN });
    assert.equal(ambiguous.status, 409);
    assert.equal((await socketRequest(sock, '/v1/secrets/NOPE', { token: TOKEN })).status, 404);
    assert.equal((await socketRequest(sock, '/v1/secrets', { token: TOKEN, method: 'POST' })).status, 405);
    assert.equal((await socketRequest(sock, '/v2/anything', { token: TOKEN })).status, 404);
  });

  it('§9/§10.4 check with CLEF_AGENT_PORT=off finds the socket through CLEF_AGENT_SOCKET; without it, a usage error', async () => {
    const ok = await check(['--ready'], { CLEF_AGENT_PORT: 'off', CLEF_AGENT_SOCKET: sock });
    assert.equal(ok.code, 0, ok.stderr);
    const bad = await check([], { CLEF_AGENT_PORT: 'off' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /CLEF_AGENT_PORT is off and CLEF_AGENT_SOCKET is not set: pass --socket PATH/);
  });
});

describe('§5.1/§10.4 one connection cap for TCP and the socket (CLEF_AGENT_MAX_CONNECTIONS=2)', { timeout: 60_000 }, () => {
  const dirs = suiteTempDirs('clef-sock-');
  let fa: FileAgent;
  let sock: string;
  const open: KeepAliveConnection[] = [];
  before(async () => {
    sock = join(dirs.make(), 'cap.sock');
    fa = await startFileAgent({ payload: PAYLOAD, env: { CLEF_AGENT_SOCKET: sock, CLEF_AGENT_MAX_CONNECTIONS: '2' } });
  });
  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await fa?.close();
  });

  it('§5.1 with one TCP and one socket connection held open, a third on the socket → 429', async () => {
    const tcp = await KeepAliveConnection.open(fa.agent.port);
    open.push(tcp);
    assert.equal((await tcp.request('/v1/health', { Host: `127.0.0.1:${fa.agent.port}` })).status, 200);
    const viaSocket = await KeepAliveConnection.open(sock);
    open.push(viaSocket);
    assert.equal((await viaSocket.request('/v1/health', { Host: 'localhost' })).status, 200);
    const third = await KeepAliveConnection.open(sock);
    open.push(third);
    const refused = await third.request('/v1/secrets', { Host: 'localhost', Authorization: `Bearer ${TOKEN}` });
    assert.equal(refused.status, 429);
    assert.equal((JSON.parse(refused.body) as { reason: string }).reason, 'too_many_connections');
    assert.ok(!refused.body.includes('SOCK-'));
  });
});

describe('§10.4 what is already at the socket path', { timeout: 90_000 }, () => {
  const dirs = suiteTempDirs('clef-sock-');
  let env: Record<string, string>;
  before(async () => {
    const key = await ageKeyPair();
    const artifact = join(dirs.make(), 'artifact.json');
    writeFileSync(artifact, await artifactJson({ recipient: key.recipient, payload: PAYLOAD }));
    env = { CLEF_AGENT_SOURCE: artifact, CLEF_AGENT_AGE_KEY: key.identity, CLEF_AGENT_TOKEN: TOKEN, CLEF_AGENT_WORKERS: '1', CLEF_AGENT_PORT: 'off' };
  });

  /** Starts the agent on `sock` and expects it to refuse: exit 1, the reason on stderr. */
  async function refused(sock: string): Promise<string> {
    const agent = new AgentProcess({ ...env, CLEF_AGENT_SOCKET: sock });
    const code = await agent.exited();
    assert.equal(code, 1, agent.output);
    assert.match(agent.stderr, /cannot listen on the Unix socket \(CLEF_AGENT_SOCKET\)/);
    return agent.stderr;
  }

  it('§10.4 a symbolic link at the path is refused, never followed (its target is untouched)', async () => {
    const dir = dirs.make();
    const target = join(dir, 'target.txt');
    writeFileSync(target, 'keep me');
    const sock = join(dir, 'agent.sock');
    symlinkSync(target, sock);
    assert.match(await refused(sock), /is a symbolic link; the agent never follows one/);
    assert.ok(lstatSync(sock).isSymbolicLink());
    assert.equal(readFileSync(target, 'utf8'), 'keep me');
    // A dangling link is no better.
    const dangling = join(dir, 'dangling.sock');
    symlinkSync(join(dir, 'nowhere.sock'), dangling);
    assert.match(await refused(dangling), /is a symbolic link/);
    assert.equal(existsSync(join(dir, 'nowhere.sock')), false, 'nothing was created through the link');
  });

  it('§10.4 a file that is not a socket is refused and left alone', async () => {
    const sock = join(dirs.make(), 'agent.sock');
    writeFileSync(sock, 'not a socket');
    assert.match(await refused(sock), /exists and is not a socket/);
    assert.equal(readFileSync(sock, 'utf8'), 'not a socket');
  });

  it('§10.4 a live socket at the path refuses the start; its listener keeps working', async () => {
    const sock = join(dirs.make(), 'agent.sock');
    const other = net.createServer((s) => s.on('error', () => undefined).end('other'));
    await new Promise<void>((r) => other.listen(sock, r));
    try {
      assert.match(await refused(sock), /is in use: another process is listening on it/);
      const reply = await new Promise<string>((resolve, reject) => {
        let text = '';
        net
          .connect({ path: sock })
          .setEncoding('utf8')
          .on('data', (d: string) => (text += d))
          .on('end', () => resolve(text))
          .on('error', reject);
      });
      assert.equal(reply, 'other');
    } finally {
      await new Promise<void>((r) => other.close(() => r()));
    }
  });

  it('§10.4 a dead socket (connect refused) is replaced, and the agent serves on it', async (t) => {
    const dir = dirs.make();
    const sock = join(dir, 'agent.sock');
    // A socket file whose listener is gone: bind, link a second name to it, close (which unlinks the first name).
    const gone = net.createServer();
    await new Promise<void>((r) => gone.listen(join(dir, 'first.sock'), r));
    linkSync(join(dir, 'first.sock'), sock);
    await new Promise<void>((r) => gone.close(() => r()));
    const before = lstatSync(sock);
    assert.ok(before.isSocket());
    const agent = new AgentProcess({ ...env, CLEF_AGENT_SOCKET: sock });
    t.after(() => agent.stop());
    await agent.ready();
    const after = lstatSync(sock);
    assert.ok(after.isSocket());
    assert.notEqual(after.ino, before.ino, 'a new socket');
    assert.deepEqual((await socketRequest(sock, '/v1/secrets', { token: TOKEN })).json(), PAYLOAD);
    assert.equal(await agent.stop(), 0);
    assert.equal(existsSync(sock), false);
  });

  it('§10.4 a directory others may write: a socket.warning without the sticky bit, none with it', async (t) => {
    for (const [mode, warned] of [
      [0o777, true],
      [0o1777, false],
    ] as const) {
      const dir = dirs.make();
      chmodSync(dir, mode);
      const sock = join(dir, 'agent.sock');
      const agent = new AgentProcess({ ...env, CLEF_AGENT_SOCKET: sock });
      t.after(() => agent.stop());
      await agent.ready();
      const warning = agent.logs().find((l) => l.event === 'socket.warning');
      assert.equal(warning !== undefined, warned, mode.toString(8));
      if (warning) assert.match(String(warning.msg), /writable by group or others without the sticky bit \(mode 0777\)/);
      assert.equal(lstatSync(sock).mode & 0o7777, 0o660);
      assert.equal(await agent.stop(), 0);
    }
  });

  it('§10.4 a directory owned by another user refuses the start: its owner could swap the socket (nothing is created in it)', async () => {
    assert.equal(process.getuid?.(), 0, 'needs root to give the directory to another uid (CI runs as root)');
    const dir = dirs.make();
    chownSync(dir, OTHER_UID, OTHER_UID);
    assert.match(
      await refused(join(dir, 'agent.sock')),
      new RegExp(
        `the directory of .* is owned by uid ${OTHER_UID}, not by root: its owner could replace the socket with their own and collect the tokens clients send`,
      ),
    );
    assert.deepEqual(readdirSync(dir), [], 'no socket, no temporary directory');
  });

  it('§10.4 a missing directory refuses the start', async () => {
    assert.match(await refused(join(dirs.make(), 'absent', 'agent.sock')), /the directory of .* cannot be used \(ENOENT\); create it first/);
  });
});
