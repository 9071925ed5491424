/**
 * The first part of `serve` and `exec`, loaded before the rest of the agent: refuse the inspector,
 * read and validate the configuration (exit 2 on a bad value, also reported to Lambda's
 * `/init/error` in a Lambda sandbox), remove the raw secrets from the environment, and start the
 * worker pool. Its workers then start (a thread, the worker bundle, the age key) while the main
 * thread loads the logger, the HTTP server and the serving modes (src/cli/serve.ts imports those
 * only after this), instead of after them: on two cores that is most of a worker's start-up off a
 * cold start's path (bench/README.md "Lambda cold start").
 *
 * So this module imports only the configuration and the pool up front (the Extensions API client
 * once the pool started); a test (test/cli/check.test.ts) keeps it that way.
 */
import inspector from 'node:inspector';
import { ConfigError, loadConfig } from '../config/index.js';
import type { Config } from '../config/types.js';
import type { ExtensionsApi } from '../lifecycle/extensions-api.js';
import { agentPool, type WorkerPool } from '../pool.js';

export interface Early {
  readonly config: Config;
  /** The worker pool, started; `startAgent` takes it over. */
  readonly pool: WorkerPool;
  /** Set when running as a Lambda extension (`serve` with AWS_LAMBDA_RUNTIME_API, SPEC §6). */
  readonly lambdaApi?: ExtensionsApi | undefined;
}

/** The configuration and the started pool, or the exit code when the start is refused. */
export async function earlyStart(command: 'serve' | 'exec'): Promise<Early | number> {
  // A debugger on a process that holds secrets is a way in: refuse --inspect and NODE_OPTIONS=--inspect.
  if (inspector.url() !== undefined || process.execArgv.some((a) => a.startsWith('--inspect'))) {
    inspector.close();
    process.stderr.write('clef-agent: refusing to run with the inspector enabled (--inspect); remove it from the command line and NODE_OPTIONS\n');
    return 2;
  }
  // Lambda extension mode (SPEC §6): Lambda sets AWS_LAMBDA_RUNTIME_API in the sandbox.
  const runtimeApi = command === 'serve' ? process.env['AWS_LAMBDA_RUNTIME_API'] : undefined;
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`clef-agent: invalid configuration:\n${err.message}\n`);
    const api = runtimeApi === undefined ? undefined : await extensionsApi(runtimeApi);
    if (typeof api === 'string') process.stderr.write(`clef-agent: ${api}\n`);
    else if (api !== undefined) await reportConfigError(api, err);
    return 2;
  }
  // Parsed now: no child process or later reader of the environment needs the raw secrets.
  // (CLEF_AGENT_AGE_KEY was already removed by loadConfig.)
  delete process.env['CLEF_AGENT_TOKEN'];
  delete process.env['CLEF_AGENT_VCS_TOKEN'];
  const pool = agentPool(config, { lambda: runtimeApi !== undefined });
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
