/**
 * `serve` once the configuration is read and the pool started (src/cli/serve.ts): start the agent,
 * then hand it to the daemon lifecycle or, in a Lambda sandbox, to the Extensions API lifecycle
 * (SPEC §6), which registers only after the first load.
 */
import { LAMBDA_LIMITS, STOP_DEADLINE_MS } from '../../common/limits.js';
import { startAgent } from '../agent.js';
import { runAsDaemon } from '../lifecycle/daemon.js';
import { reportInitError, runAsLambdaExtension } from '../lifecycle/lambda.js';
import { StartupError } from '../startup.js';
import { flushFailedStart } from '../telemetry/index.js';
import { authHeaders } from '../telemetry/secret-headers.js';
import type { Early } from './early-start.js';
import { prepareAgent } from './prepare.js';

export async function serveAgent(early: Early): Promise<number> {
  const prepared = prepareAgent(early, 'serve');
  const { config, pool, log, events, telemetry } = prepared;
  const lambdaApi = prepared.lambda?.api;
  const extensionName = prepared.lambda?.name ?? '';
  try {
    const agent = await startAgent(config, { log, events, lambda: lambdaApi !== undefined, pool });
    if (lambdaApi === undefined) runAsDaemon(agent, log, events, telemetry);
    await agent.loaded;
    const meta = agent.meta();
    // Never delays serving (nor, in Lambda, the registration): the SDK loads in the background.
    telemetry?.start(meta?.identity, meta?.environment, authHeaders(agent.takeTelemetryCredentials(), log), agent.metrics).catch(() => {
      log.warn({ event: 'telemetry.start_failed' }, 'telemetry export could not start; events are only logged');
    });
    if (lambdaApi !== undefined) void runAsLambdaExtension(agent, { api: lambdaApi, name: extensionName, log, events, telemetry });
    return -1; // keep running; the daemon or Lambda lifecycle exits
  } catch (err) {
    if (err instanceof StartupError) {
      log.fatal({ event: 'agent.start_failed' }, err.message);
      // Lambda: the init budget is 10 s, so the flush below gets less of it.
      if (lambdaApi !== undefined) await reportInitError(lambdaApi, extensionName, { type: err.errorType, message: err.message }, log);
      await flushFailedStart(telemetry, lambdaApi !== undefined ? LAMBDA_LIMITS.initErrorFlushMaxMs : STOP_DEADLINE_MS / 3);
      log.flush();
      process.stderr.write(`clef-agent: ${err.message}\n`);
      return err.exitCode;
    }
    // Anything else is a bug; Lambda still hears that init failed (the error's name only: its
    // message is not known to be free of values).
    if (lambdaApi !== undefined) {
      await reportInitError(lambdaApi, extensionName, { type: 'Extension.StartFailed', message: `internal error (${(err as Error).name})` }, log);
    }
    throw err;
  }
}
