#!/usr/bin/env node
// `npm run demo`: a throwaway end-to-end clef-agent. Generates an age identity and an Ed25519
// signing key, packs a demo payload with `packArtifact`, starts `dist/src/main.js` on it, waits for
// /v1/ready and prints ready-to-paste curl commands. Ctrl-C stops the agent and deletes every file.
//
// The agent's stdout (pino JSON lines) passes through unchanged, so `npm run demo | npx pino-pretty`
// works; the demo's own messages go to stderr. Only throwaway material is involved: the token is
// printed on purpose, and the signing key never leaves memory.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { setTimeout } from 'node:timers';
import { URL, fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const mainJs = join(root, 'dist', 'src', 'main.js');
const packJs = join(root, 'dist', 'tools', 'pack', 'index.js');
const READY_DEADLINE_MS = 30_000;
const STOP_GRACE_MS = 15_000;

const say = (line) => process.stderr.write(`demo: ${line}\n`);

function fail(message) {
  say(message);
  process.exit(1);
}

for (const f of [mainJs, packJs]) {
  if (!existsSync(f)) fail(`${f} not found; run \`npm run build\` first (or use \`npm run demo\`)`);
}

const portText = process.env.PORT ?? '7779';
if (!/^[1-9][0-9]{0,4}$/.test(portText) || Number(portText) > 65535) fail(`PORT must be 1-65535 (got ${JSON.stringify(portText)})`);
const port = Number(portText);

const { packArtifact } = await import(packJs);
const { generateIdentity, identityToRecipient } = await import('age-encryption');

const dir = mkdtempSync(join(os.tmpdir(), 'clef-agent-demo-'));
let child;
let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  rmSync(dir, { recursive: true, force: true });
}
// Last resort for paths that skip the orderly shutdown (an exception, process.exit elsewhere).
process.on('exit', () => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  cleanup();
});

try {
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  const identityFile = join(dir, 'identity.txt');
  writeFileSync(identityFile, `# clef-agent demo identity (throwaway)\n# public key: ${recipient}\n${identity}\n`, { mode: 0o600, flag: 'wx' });

  const { privateKey } = generateKeyPairSync('ed25519');
  const payload = {
    app: { DATABASE_URL: 'postgres://demo:demo@localhost/demo', API_KEY: 'demo-api-key' },
    payments: { STRIPE_KEY: 'sk_test_demo' },
  };
  const { json, verifyKey } = await packArtifact({
    payload,
    recipients: [recipient],
    identity: 'demo',
    environment: 'local',
    signingKey: privateKey,
  });
  const artifactFile = join(dir, 'artifact.json');
  writeFileSync(artifactFile, json, { mode: 0o644, flag: 'wx' });

  const token = randomBytes(32).toString('hex');
  // Inherited CLEF_AGENT_* settings would mix with the demo's (both age key variables set is a
  // start-up error, for one), so the demo starts from a clean slate.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CLEF_AGENT_')));
  Object.assign(env, {
    CLEF_AGENT_SOURCE: artifactFile,
    CLEF_AGENT_AGE_KEY_FILE: identityFile,
    CLEF_AGENT_VERIFY_KEY: verifyKey,
    CLEF_AGENT_TOKEN: token,
    CLEF_AGENT_PORT: String(port),
  });

  // Own process group: a terminal Ctrl-C reaches only the demo, which forwards exactly one signal
  // (a second SIGINT straight from the terminal could make the agent skip its graceful shutdown).
  child = spawn(process.execPath, [mainJs], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let baseUrl = `http://127.0.0.1:${port}`;
  // /v1/ready is polled only once this agent has logged that it listens: otherwise another
  // process already on the port (an earlier demo, say) could answer the poll in its place.
  let listening = false;
  let pending = '';
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      try {
        const rec = JSON.parse(line);
        if ((rec?.event === 'listening' || rec?.msg === 'listening') && typeof rec.url === 'string') {
          baseUrl = rec.url.replace(/\/+$/, '');
          listening = true;
        }
      } catch {
        // not a JSON log line; it was passed through above anyway
      }
    }
  });
  child.stderr.pipe(process.stderr);

  let ready = false;
  let stopping = false;
  let timedOut = false;
  const closed = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  child.on('error', (err) => say(`could not start the agent: ${err.message}`));

  closed.then(({ code, signal }) => {
    const how = signal !== null ? `signal ${signal}` : `code ${code}`;
    if (!ready && !stopping) say(`the agent exited (${how}) before it became ready; its output is above`);
    else if (!stopping) say(`the agent exited unexpectedly (${how})`);
    else say(`agent stopped (${how}); removed ${dir}`);
    cleanup();
    process.exit(stopping && !timedOut && (code === 0 || signal !== null) ? 0 : code || 1);
  });

  let killTimer;
  const onSignal = (sig) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (stopping) {
      say('second signal: killing the agent');
      child.kill('SIGKILL');
      return;
    }
    stopping = true;
    say(`${sig}: stopping the agent`);
    child.kill(sig);
    killTimer = setTimeout(() => {
      say(`the agent did not stop within ${STOP_GRACE_MS / 1000}s; killing it`);
      child.kill('SIGKILL');
    }, STOP_GRACE_MS);
    killTimer.unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const deadline = Date.now() + READY_DEADLINE_MS;
  while (!ready && !stopping && child.exitCode === null && child.signalCode === null) {
    if (Date.now() > deadline) {
      say(`the agent was not ready within ${READY_DEADLINE_MS / 1000}s; stopping it`);
      timedOut = true;
      onSignal('SIGTERM');
      break;
    }
    if (listening) {
      try {
        const res = await fetch(`${baseUrl}/v1/ready`, { signal: AbortSignal.timeout(1000) });
        await res.body?.cancel();
        ready = res.status === 200;
      } catch {
        // not answering yet
      }
    }
    if (!ready) await new Promise((r) => setTimeout(r, 200));
  }

  if (ready) {
    const auth = `-H "Authorization: Bearer ${token}"`;
    process.stderr.write(
      [
        '',
        `demo: clef-agent is serving a signed demo artifact on ${baseUrl}`,
        `demo: token: ${token}`,
        'demo: try:',
        `  curl ${auth} ${baseUrl}/v1/secrets`,
        `  curl ${auth} ${baseUrl}/v1/secrets/app/API_KEY`,
        `  curl ${auth} ${baseUrl}/v1/keys`,
        `  curl ${baseUrl}/v1/health`,
        `demo: files (age identity, artifact) are in ${dir}`,
        'demo: Ctrl-C stops the agent and deletes them',
        '',
        '',
      ].join('\n'),
    );
  }
} catch (err) {
  say(`failed: ${err instanceof Error ? err.message : String(err)}`);
  if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
  cleanup();
  process.exit(1);
}
