/**
 * Heap probe for test/e2e/jit-heap.test.ts. Run as a child process with `--expose-gc` and an IPC
 * channel: it starts the REAL agent in-process exactly like main.ts does (`loadConfig(process.env)`,
 * `startAgent` with a real piscina pool), so this process's main thread IS the agent's main thread,
 * and writes V8 heap snapshots of it on request.
 *
 * Messages in:  {type:'snapshot', label} | {type:'keep', value} | {type:'fetchAndKeep', path} | {type:'close'}
 * Messages out: {type:'config', …} once, {type:'ready', port}, then one answer per request.
 *
 * The probe never sees the secret values or the age key except through the agent itself (the key
 * arrives in its environment, as in production); the test process holds the needles it searches for.
 */
import { execFileSync } from 'node:child_process';
import { inspect } from 'node:util';
import v8 from 'node:v8';
import { join } from 'node:path';
import { startAgent } from '../../src/agent.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { request } from '../kit/http.js';

type Message =
  | { type: 'snapshot'; label: string; dir: string }
  | { type: 'keep'; value: string }
  | { type: 'fetchAndKeep'; path: string; accept?: string }
  | { type: 'close' };

const send = (m: Record<string, unknown>): void => {
  process.send?.(m);
};

/** Values the control run deliberately keeps reachable, to prove the search finds kept strings. */
const kept: string[] = [];

async function collect(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run the probe with --expose-gc');
  // Several rounds with turns of the event loop between them, so finished requests' closures,
  // sockets and weak callbacks are all released before the snapshot.
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 20));
  }
  gc();
}

async function get(port: number, token: string, path: string, accept: string | undefined): Promise<string> {
  return (await request(port, path, { token, ...(accept === undefined ? {} : { headers: { accept } }) })).body;
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  // What a child process of the agent inherits: it must not see the key.
  const childSees = execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.env.CLEF_AGENT_AGE_KEY))'], { encoding: 'utf8' });
  send({
    type: 'config',
    envHasKey: Object.prototype.hasOwnProperty.call(process.env, 'CLEF_AGENT_AGE_KEY') || process.env['CLEF_AGENT_AGE_KEY'] !== undefined,
    childSees,
    configJson: JSON.stringify(config),
    configInspect: inspect(config, { depth: 10, showHidden: true }),
    // What every new worker is handed (structured clone copies the whole backing ArrayBuffer).
    ...(config.ageKey?.kind === 'inline'
      ? { sealedBytes: config.ageKey.sealed.length, sealedBackingBytes: config.ageKey.sealed.unseal().buffer.byteLength }
      : {}),
  });
  const handle = await startAgent(config, { log: createLogger('silent') });
  await handle.loaded;
  const token = config.token ?? '';
  send({ type: 'ready', port: handle.port });

  process.on('message', (m: Message) => {
    void (async () => {
      switch (m.type) {
        case 'snapshot': {
          await collect();
          const path = v8.writeHeapSnapshot(join(m.dir, `probe-${process.pid}-${m.label}.heapsnapshot`));
          send({ type: 'snapshot', label: m.label, path });
          return;
        }
        case 'keep':
          kept.push(m.value);
          send({ type: 'kept' });
          return;
        case 'fetchAndKeep':
          kept.push(await get(handle.port, token, m.path, m.accept));
          send({ type: 'kept' });
          return;
        case 'close':
          await handle.close();
          send({ type: 'closed' });
          process.disconnect();
          return;
      }
    })().catch((err: unknown) => send({ type: 'error', message: err instanceof Error ? err.message : String(err) }));
  });
}

main().catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  process.exitCode = 1;
  process.disconnect?.();
});
