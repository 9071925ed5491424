/**
 * `clef-agent [serve]`: loads the configuration from the environment and runs the agent as a
 * daemon, or as a Lambda extension in a Lambda sandbox. src/main.ts imports this module only for
 * this command, so `check`, `--help` and `--version` never load the agent (config, logger, worker
 * pool); and this module loads the agent (serve-agent.ts) only after early-start.ts started the
 * worker pool, so the workers start while the rest of the main thread loads.
 */
import { earlyStart } from './early-start.js';

export async function runServe(): Promise<number> {
  const early = await earlyStart('serve');
  if (typeof early === 'number') return early;
  const { serveAgent } = await import('./serve-agent.js');
  return serveAgent(early);
}
