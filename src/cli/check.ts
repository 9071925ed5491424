/**
 * `clef-agent check [--ready|--health] [--port N | --socket PATH]`: the probe for Docker
 * HEALTHCHECK, Kubernetes exec probes and ECS health checks. One GET to 127.0.0.1 (or to the agent's
 * Unix socket) with node:http, bounded to
 * CHECK_TIMEOUT_MS from the first byte sent to the last byte read. It runs every few seconds in
 * the agent's container, so it imports node:http (through src/http/node-http.ts, which skips the
 * ~40 ms an ES import of it costs on Node 22+) and the usage text, nothing else: no config
 * (the agent's other variables may or may not be set where the probe runs), no logger, no pool.
 * It sends no token and prints nothing of an answer but its status and reason code.
 */
import { http } from '../http/node-http.js';
import { CHECK_USAGE } from './usage.js';

/** Connect and answer together; a probe's own timeout (Docker, Kubernetes: 1 s and up) should be longer. */
export const CHECK_TIMEOUT_MS = 1_000;
/** The agent's /v1/health body is a few hundred bytes; anything far bigger is not the agent. */
const MAX_BODY_BYTES = 64 * 1024;
const DEFAULT_PORT = 7779;
const PORT_ENV = 'CLEF_AGENT_PORT';
const SOCKET_ENV = 'CLEF_AGENT_SOCKET';

export interface CheckIO {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
}

type Target = 'ready' | 'health';

/** A TCP port on 127.0.0.1, or the path of the agent's Unix socket. */
type Where = { readonly port: number } | { readonly socket: string };

interface CheckArgs {
  readonly target: Target;
  readonly where: Where;
}

class UsageError extends Error {}

interface Outcome {
  readonly ok: boolean;
  readonly message: string;
}

export async function runCheck(argv: readonly string[], io: CheckIO): Promise<number> {
  let args: CheckArgs | 'help';
  try {
    args = parseCheckArgs(argv, io.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr.write(`clef-agent check: ${err.message}\n\n${CHECK_USAGE}`);
    return 2;
  }
  if (args === 'help') {
    io.stdout.write(CHECK_USAGE);
    return 0;
  }
  const outcome = await probe(args.where, args.target, CHECK_TIMEOUT_MS);
  (outcome.ok ? io.stdout : io.stderr).write(`clef-agent check: ${outcome.message}\n`);
  return outcome.ok ? 0 : 1;
}

function parseCheckArgs(argv: readonly string[], env: CheckIO['env']): CheckArgs | 'help' {
  let target: Target | undefined;
  let portFlag: string | undefined;
  let socketFlag: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--ready' || arg === '--health') {
      const t = arg === '--ready' ? 'ready' : 'health';
      if (target !== undefined && target !== t) throw new UsageError('--ready and --health are exclusive: choose one');
      target = t;
      continue;
    }
    if (arg === '--port' || arg.startsWith('--port=')) {
      if (portFlag !== undefined) throw new UsageError('--port given more than once');
      portFlag = arg === '--port' ? argv[++i] : arg.slice('--port='.length);
      if (portFlag === undefined) throw new UsageError('--port needs a value');
      continue;
    }
    if (arg === '--socket' || arg.startsWith('--socket=')) {
      if (socketFlag !== undefined) throw new UsageError('--socket given more than once');
      socketFlag = arg === '--socket' ? argv[++i] : arg.slice('--socket='.length);
      if (socketFlag === undefined || socketFlag === '') throw new UsageError('--socket needs a path');
      continue;
    }
    // Only a flag's name is echoed: a stray argument may be a value pasted in the wrong place.
    if (arg.startsWith('-')) throw new UsageError(`unknown flag ${JSON.stringify(arg.split('=')[0]?.slice(0, 40) ?? '')}`);
    throw new UsageError('unexpected argument: check takes only --flags');
  }
  if (portFlag !== undefined && socketFlag !== undefined) throw new UsageError('--port and --socket are exclusive: choose one');
  return { target: target ?? 'ready', where: chooseWhere(portFlag, socketFlag, env) };
}

/**
 * A flag wins; then CLEF_AGENT_SOCKET (an agent with a socket serves the same answers on it, and
 * with CLEF_AGENT_PORT=off only there); then CLEF_AGENT_PORT; then 7779.
 */
function chooseWhere(portFlag: string | undefined, socketFlag: string | undefined, env: CheckIO['env']): Where {
  if (socketFlag !== undefined) return { socket: socketFlag };
  if (portFlag !== undefined) return { port: parsePort('--port', portFlag) };
  const socket = env[SOCKET_ENV];
  if (socket !== undefined && socket !== '') return { socket };
  const fromEnv = env[PORT_ENV];
  if (fromEnv === 'off') throw new UsageError(`${PORT_ENV} is off and ${SOCKET_ENV} is not set: pass --socket PATH`);
  return { port: fromEnv !== undefined ? parsePort(PORT_ENV, fromEnv, '; fix it or pass --port N') : DEFAULT_PORT };
}

/** A decimal integer 1-65535; strict (no sign, spaces, hex). Port 0, the agent's "any free port", cannot be probed. */
function parsePort(name: string, raw: string, hint = ''): number {
  const n = /^[0-9]{1,5}$/.test(raw) ? Number(raw) : NaN;
  if (n >= 1 && n <= 65_535) return n;
  const shown = raw === '' ? 'empty' : JSON.stringify(raw.slice(0, 20));
  throw new UsageError(`${name} must be an integer from 1 to 65535 (it is ${shown})${hint}`);
}

/** One GET /v1/<target>; always settles, within `timeoutMs`. */
function probe(to: Where, target: Target, timeoutMs: number): Promise<Outcome> {
  const where = 'port' in to ? `127.0.0.1:${to.port}` : `unix:${to.socket}`;
  // On the socket the agent accepts a Host without a port (SPEC §10.4).
  const connect = 'port' in to ? { host: '127.0.0.1', port: to.port } : { socketPath: to.socket, headers: { host: 'localhost' } };
  return new Promise((resolve) => {
    let settled = false;
    const finish = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ ok: false, message: `no answer within ${timeoutMs} ms from ${where}` }), timeoutMs);
    const req = http.request(
      { ...connect, path: `/v1/${target}`, method: 'GET', agent: false, headers: { accept: 'application/json', ...connect.headers } },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size > MAX_BODY_BYTES) finish({ ok: false, message: `unexpected answer from ${where}: body over ${MAX_BODY_BYTES} bytes (is it clef-agent?)` });
          else chunks.push(d);
        });
        res.on('end', () => finish(judge(target, res.statusCode ?? 0, Buffer.concat(chunks), where)));
        res.on('error', (err) => finish(failed(err, where)));
      },
    );
    req.on('error', (err) => finish(failed(err, where)));
    req.end();
  });
}

function failed(err: Error, where: string): Outcome {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED')
    return { ok: false, message: `connection refused on ${where} (is the agent running on this ${where.startsWith('unix:') ? 'socket' : 'port'}?)` };
  if (code === 'ENOENT') return { ok: false, message: `no socket at ${where} (is the agent running with this CLEF_AGENT_SOCKET?)` };
  // The code only: a message could carry more than it should.
  return { ok: false, message: `no answer from ${where}: ${code ?? err.name}` };
}

/** The verdict on an answer: the status decides; the body gives the reason code (shown only when it looks like one). */
function judge(target: Target, status: number, body: Buffer, where: string): Outcome {
  let parsed: Record<string, unknown> = {};
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    if (typeof v === 'object' && v !== null) parsed = v as Record<string, unknown>;
  } catch {
    // Not JSON: judged on the status alone below.
  }
  const code = (v: unknown): string | undefined => (typeof v === 'string' && /^[a-z_]{1,40}$/.test(v) ? v : undefined);
  const reason = code(parsed['reason']);
  if (status === 200) {
    if (target === 'ready' && parsed['ready'] === true) return { ok: true, message: `ready (${where})` };
    if (target === 'health' && parsed['status'] === 'ok') {
      const state = code(parsed['state']);
      return { ok: true, message: `healthy (${where}${state === undefined ? '' : `, state ${state}`})` };
    }
    return { ok: false, message: `unexpected answer from ${where}: 200 without the agent's ${target} body (is it clef-agent?)` };
  }
  const not = target === 'ready' ? 'not ready' : 'not healthy';
  if (status === 503 && reason !== undefined) return { ok: false, message: `${not} (${reason})` };
  return { ok: false, message: `${not} (HTTP ${status}${reason === undefined ? '' : ` ${reason}`})` };
}
