/**
 * Test helper for test/unit/start-signals.test.ts: `clef-agent serve` in two steps, as src/cli/serve.ts
 * runs it, with a signal in between. It runs the first step (earlyStart: configuration read, pool
 * started), sends itself `argv[2]` (SIGHUP or SIGUSR1) before the agent's lifecycle handles that
 * signal, waits long enough for Node's default action to have happened (SIGHUP: the process ends;
 * SIGUSR1: an inspector opens), reports on stderr, then runs the agent as usual (logs on stdout).
 */
import inspector from 'node:inspector';
import { earlyStart } from '../../src/cli/early-start.js';

const signal = process.argv[2];
if (signal !== 'SIGHUP' && signal !== 'SIGUSR1') throw new Error('usage: start-signals.js SIGHUP|SIGUSR1');
const early = await earlyStart('serve');
if (typeof early === 'number') process.exit(early);
process.kill(process.pid, signal);
await new Promise((resolve) => setTimeout(resolve, 300));
process.stderr.write(`REPORT ${JSON.stringify({ survived: true, inspector: inspector.url() ?? null })}\n`);
const { serveAgent } = await import('../../src/cli/serve-agent.js');
const code = await serveAgent(early);
if (code >= 0) process.exit(code);
