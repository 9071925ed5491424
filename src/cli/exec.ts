/**
 * `clef-agent exec [options] -- <command> [args…]`: parses the flags, then configures the agent
 * exactly as `serve` does (same variables, same validation order) and hands over to exec mode
 * (src/exec/). Logs go to stderr: stdout is the command's. Loaded only for this command.
 */
import { parseExecArgs } from '../exec/args.js';
import { prepareAgent } from './serve.js';
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
  const prepared = await prepareAgent('exec', 'stderr');
  if (typeof prepared === 'number') return prepared;
  const { runExec } = await import('../exec/command.js');
  const status = await runExec(parsed.options, prepared);
  // Exit now with the command's status, whatever handles remain (status 0 included).
  prepared.log.flush(() => process.exit(status));
  return -1;
}
