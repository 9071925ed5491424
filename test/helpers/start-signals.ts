/**
 * Test helper for test/unit/start-signals.test.ts: `clef-agent serve` (or `exec`'s agent) in two
 * steps, as src/cli/serve.ts runs it, with a signal in between. It runs the first step (earlyStart:
 * configuration read, pool started), sends itself `argv[2]` (SIGHUP, SIGUSR1, SIGTERM or SIGINT)
 * before the agent's lifecycle handles that signal, waits long enough for Node's default action to
 * have happened (SIGHUP, SIGTERM: the process ends without running its exit handlers; SIGUSR1: an
 * inspector opens), reports on stderr, then runs the agent as usual (logs on stdout). `argv[3]`:
 * `serve` (default) or `exec`, the command earlyStart runs for. Exit handlers report on stderr too.
 */
import inspector from 'node:inspector';
import { earlyStart } from '../../src/cli/early-start.js';

const signal = process.argv[2];
const command = process.argv[3] ?? 'serve';
if (!['SIGHUP', 'SIGUSR1', 'SIGTERM', 'SIGINT'].includes(signal ?? '') || (command !== 'serve' && command !== 'exec')) {
  throw new Error('usage: start-signals.js SIGHUP|SIGUSR1|SIGTERM|SIGINT [serve|exec]');
}
process.on('exit', (code) => process.stderr.write(`EXIT-HANDLER ${code}\n`));
const early = await earlyStart(command);
if (typeof early === 'number') process.exit(early);
process.kill(process.pid, signal);
await new Promise((resolve) => setTimeout(resolve, 300));
process.stderr.write(`REPORT ${JSON.stringify({ survived: true, inspector: inspector.url() ?? null })}\n`);
const { serveAgent } = await import('../../src/cli/serve-agent.js');
const code = await serveAgent(early);
if (code >= 0) process.exit(code);
