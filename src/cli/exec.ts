/**
 * `clef-agent exec [options] -- <command> [args…]`: parses the flags, then configures the agent
 * exactly as `serve` does (same variables, same validation order, the pool started early) and hands over to exec mode
 * (src/exec/). Logs go to stderr: stdout is the command's. Loaded only for this command.
 */
import { parseExecArgs } from '../exec/args.js';
import { earlyStart } from './early-start.js';
import { EXEC_USAGE } from './usage.js';

export async function runExecCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseExecArgs(argv);
  if (parsed.kind === 'help') {
    process.stdout.write(EXEC_USAGE);
    return 0;
  }
  if (parsed.kind === 'error') {
    process.stderr.write(`clef-agent exec: ${parsed.message}\n\n${EXEC_USAGE}`);
    return 2;
  }
  const early = await earlyStart('exec');
  if (typeof early === 'number') return early;
  // Loaded while the pool's workers start (early-start.ts).
  const [{ prepareAgent }, { runExec }] = await Promise.all([import('./prepare.js'), import('../exec/command.js')]);
  const prepared = prepareAgent(early, 'exec', 'stderr');
  const status = await runExec(parsed.options, prepared);
  // Exit now with the command's status, whatever handles remain (status 0 included).
  prepared.log.flush(() => process.exit(status));
  return -1;
}
