/**
 * The first part of `serve` and `exec`, loaded before the rest of the agent: refuse the inspector,
 * remove the raw secrets from the environment, start the worker pool, and read and validate the
 * configuration (exit 2 on a bad value, also reported to Lambda's `/init/error` in a Lambda
 * sandbox). The workers then start (a thread, the worker bundle) while the main thread loads the
 * configuration, the logger, the HTTP server and the serving modes (src/cli/serve.ts imports those
 * only after this), instead of after them: on two cores that is most of a worker's start-up off a
 * cold start's path (bench/README.md "Lambda cold start").
 *
 * Where workers start at once (Lambda, JIT mode), the pool starts from options guessed from the raw
 * environment (src/pool-guess.ts) before the configuration modules load, and takes the validated
 * options after (`WorkerPool.adopt`). So this module imports only the pool up front; a test
 * (test/cli/check.test.ts) keeps it that way.
 */
import inspector from 'node:inspector';
import type { ConfigError } from '../config/errors.js';
import type { Config } from '../config/types.js';
import type { ExtensionsApi } from '../lifecycle/extensions-api.js';
import { holdSignals, type HoldPolicy } from '../lifecycle/start-signals.js';
import { poolOptions, WorkerPool } from '../pool.js';
import { guessPoolOptions } from '../pool-guess.js';

/**
 * Variables whose values are secrets: read from a copy of the environment and removed from
 * process.env before any worker starts (a worker copies process.env) or child process runs.
 */
const RAW_SECRETS = ['CLEF_AGENT_AGE_KEY', 'CLEF_AGENT_TOKEN', 'CLEF_AGENT_VCS_TOKEN'] as const;

export interface Early {
  readonly config: Config;
  /** The worker pool, started; `startAgent` takes it over. */
  readonly pool: WorkerPool;
  /** Set when running as a Lambda extension (`serve` with AWS_LAMBDA_RUNTIME_API, SPEC §6). */
  readonly lambdaApi?: ExtensionsApi | undefined;
}

/** The configuration and the started pool, or the exit code when the start is refused. */
export async function earlyStart(command: 'serve' | 'exec'): Promise<Early | number> {
  // Lambda extension mode (SPEC §6): Lambda sets AWS_LAMBDA_RUNTIME_API in the sandbox.
  const runtimeApi = command === 'serve' ? process.env['AWS_LAMBDA_RUNTIME_API'] : undefined;
  const lambda = runtimeApi !== undefined;
  // Before the inspector check, so no SIGUSR1 opens an inspector after it; the daemon's SIGHUP (a
  // reload) must not end a starting agent (exec forwards SIGHUP to its command and Lambda keeps
  // Node's default: README "Reload"); SIGTERM and SIGINT stop the start with the exit handlers run,
  // as the daemon's stop (0) or exec's (128+n) would (src/lifecycle/start-signals.ts).
  const stop: HoldPolicy = { exit: command === 'exec' ? 'signal' : 'clean' };
  holdSignals({ SIGUSR1: 'count', ...(command === 'serve' && !lambda ? { SIGHUP: 'count' } : {}), SIGTERM: stop, SIGINT: stop });
  // A debugger on a process that holds secrets is a way in: refuse --inspect and NODE_OPTIONS=--inspect.
  if (inspector.url() !== undefined || process.execArgv.some((a) => a.startsWith('--inspect'))) {
    inspector.close();
    process.stderr.write('clef-agent: refusing to run with the inspector enabled (--inspect); remove it from the command line and NODE_OPTIONS\n');
    return 2;
  }
  // What the configuration is read from. No worker, child process or later reader of process.env
  // needs the raw secrets (loadConfig also deletes CLEF_AGENT_AGE_KEY from `env`, its copy).
  const env = { ...process.env };
  for (const name of RAW_SECRETS) delete process.env[name];
  const guess = guessPoolOptions(env, process.cwd(), { lambda });
  const guessed = guess === undefined ? undefined : WorkerPool.guessed(guess);
  const { ConfigError: InvalidConfig, loadConfig } = await import('../config/index.js');
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    await guessed?.destroy();
    if (!(err instanceof InvalidConfig)) throw err;
    process.stderr.write(`clef-agent: invalid configuration:\n${err.message}\n`);
    const api = runtimeApi === undefined ? undefined : await extensionsApi(runtimeApi);
    if (typeof api === 'string') process.stderr.write(`clef-agent: ${api}\n`);
    else if (api !== undefined) await reportConfigError(api, err);
    return 2;
  }
  const options = poolOptions(config, { lambda });
  guessed?.adopt(options);
  const pool = guessed ?? new WorkerPool(options);
  if (runtimeApi === undefined) return { config, pool };
  // The Extensions API client (and node:http) loads while the workers start.
  const api = await extensionsApi(runtimeApi);
  if (typeof api === 'string') {
    await pool.destroy();
    process.stderr.write(`clef-agent: ${api}\n`);
    return 2;
  }
  return { config, pool, lambdaApi: api };
}

/** The Extensions API client for AWS_LAMBDA_RUNTIME_API, or why the value is refused. */
async function extensionsApi(runtimeApi: string): Promise<ExtensionsApi | string> {
  const { ExtensionsApi: Client, extensionsApiBase } = await import('../lifecycle/extensions-api.js');
  try {
    return new Client(extensionsApiBase(runtimeApi));
  } catch (err) {
    return (err as Error).message;
  }
}

/** Lambda hears of an invalid configuration through `/init/error` (loaded only then). */
async function reportConfigError(api: ExtensionsApi, err: ConfigError): Promise<void> {
  const [{ createLogger }, { defaultExtensionName, reportInitError }] = await Promise.all([import('../log.js'), import('../lifecycle/lambda.js')]);
  const log = createLogger('info', {});
  const raw = process.env['CLEF_AGENT_LAMBDA_EXTENSION_NAME'];
  const name = raw !== undefined && /^[A-Za-z0-9._-]{1,128}$/.test(raw) ? raw : defaultExtensionName();
  await reportInitError(api, name, { type: 'Extension.ConfigInvalid', message: `invalid configuration: ${err.message}` }, log);
  log.flush();
}
