/**
 * `clef-agent [serve]`: loads the configuration from the environment and runs the agent as a
 * daemon. src/main.ts imports this module only for this command, so `check`, `--help` and
 * `--version` never load the agent (config, logger, worker pool).
 */
import inspector from 'node:inspector';
import { LAMBDA_LIMITS, STOP_DEADLINE_MS } from '../../common/limits.js';
import { startAgent } from '../agent.js';
import { ConfigError, loadConfig } from '../config/index.js';
import type { Config } from '../config/types.js';
import { refuseInspectorSignal, runAsDaemon } from '../lifecycle/daemon.js';
import { ExtensionsApi, extensionsApiBase } from '../lifecycle/extensions-api.js';
import { defaultExtensionName, reportInitError, runAsLambdaExtension } from '../lifecycle/lambda.js';
import { createLogger, type LogDestination, type Logger } from '../log.js';
import { StartupError } from '../startup.js';
import { Events } from '../telemetry/events.js';
import { flushFailedStart, setUpTelemetry, type Telemetry } from '../telemetry/index.js';
import { authHeaders } from '../telemetry/secret-headers.js';
import { packageVersion } from './version.js';

export interface Prepared {
  readonly version: string;
  readonly config: Config;
  readonly log: Logger;
  readonly events: Events;
  readonly telemetry: Telemetry | undefined;
  /** Set when running as a Lambda extension (`serve` with AWS_LAMBDA_RUNTIME_API, SPEC §6). */
  readonly lambda?: { readonly api: ExtensionsApi; readonly name: string } | undefined;
}

/**
 * What `serve` and `exec` do before starting the agent, in the same order: refuse the inspector,
 * load and validate the configuration (exit 2 on a bad value), remove the raw secrets from the
 * environment, create the logger, log `agent.starting` and the configuration warnings, set up
 * telemetry. Returns the exit code when the start is refused. `serve` in a Lambda sandbox also
 * prepares the Extensions API client (a configuration error is then reported to Lambda too).
 */
export async function prepareAgent(command: 'serve' | 'exec', logTo?: LogDestination): Promise<Prepared | number> {
  const version = packageVersion();
  // A debugger on a process that holds secrets is a way in: refuse --inspect and NODE_OPTIONS=--inspect.
  if (inspector.url() !== undefined || process.execArgv.some((a) => a.startsWith('--inspect'))) {
    inspector.close();
    process.stderr.write('clef-agent: refusing to run with the inspector enabled (--inspect); remove it from the command line and NODE_OPTIONS\n');
    return 2;
  }
  // Lambda extension mode (SPEC §6): Lambda sets AWS_LAMBDA_RUNTIME_API in the sandbox.
  const runtimeApi = command === 'serve' ? process.env['AWS_LAMBDA_RUNTIME_API'] : undefined;
  let lambdaApi: ExtensionsApi | undefined;
  if (runtimeApi !== undefined) {
    try {
      lambdaApi = new ExtensionsApi(extensionsApiBase(runtimeApi));
    } catch (err) {
      process.stderr.write(`clef-agent: ${(err as Error).message}\n`);
      return 2;
    }
  }
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`clef-agent: invalid configuration:\n${err.message}\n`);
      if (lambdaApi !== undefined) {
        const log = createLogger('info', {});
        const raw = process.env['CLEF_AGENT_LAMBDA_EXTENSION_NAME'];
        const name = raw !== undefined && /^[A-Za-z0-9._-]{1,128}$/.test(raw) ? raw : defaultExtensionName();
        await reportInitError(lambdaApi, name, { type: 'Extension.ConfigInvalid', message: `invalid configuration: ${err.message}` }, log);
        log.flush();
      }
      return 2;
    }
    throw err;
  }
  // Parsed now: no child process or later reader of the environment needs the raw secrets.
  // (CLEF_AGENT_AGE_KEY was already removed by loadConfig.)
  delete process.env['CLEF_AGENT_TOKEN'];
  delete process.env['CLEF_AGENT_VCS_TOKEN'];
  const log = createLogger(config.logLevel, { agentId: config.agentId }, logTo);
  refuseInspectorSignal(log);
  log.info(
    {
      event: 'agent.starting',
      version,
      ...(command === 'exec' ? { command } : {}),
      source: config.sourceLabel,
      mode: config.cacheTtl === 0 ? 'jit' : 'cached',
      cacheTtl: config.cacheTtl,
      pollInterval: config.pollInterval,
      workers: config.workers,
      tokenOrigin: config.tokenOrigin,
      ...(config.socket === undefined ? {} : { port: config.port, socket: config.socket.path }),
      cachePath: config.cachePath,
      signed: config.verifyKey !== undefined,
      opsAddr:
        config.opsAddr === undefined ? null : `${config.opsAddr.host.includes(':') ? `[${config.opsAddr.host}]` : config.opsAddr.host}:${config.opsAddr.port}`,
    },
    'clef-agent starting',
  );
  if (config.verifyKey === undefined) {
    log.warn(
      { event: 'config.no_verify_key' },
      'CLEF_AGENT_VERIFY_KEY is not set: anyone who can write the artifact location can make the agent serve secrets of their choosing; set a verify key',
    );
  }
  for (const w of config.warnings) log.warn({ event: 'config.warning' }, w);
  const events = new Events(log);
  const telemetry = setUpTelemetry(config, version, events, log);
  if (lambdaApi === undefined) return { version, config, log, events, telemetry };
  const name = config.lambdaExtensionName ?? defaultExtensionName();
  log.info({ event: 'lambda.mode', name }, 'running as a Lambda extension');
  return { version, config, log, events, telemetry, lambda: { api: lambdaApi, name } };
}

export async function runServe(): Promise<number> {
  const prepared = await prepareAgent('serve');
  if (typeof prepared === 'number') return prepared;
  const { config, log, events, telemetry } = prepared;
  const lambdaApi = prepared.lambda?.api;
  const extensionName = prepared.lambda?.name ?? '';
  try {
    const agent = await startAgent(config, { log, events, lambda: lambdaApi !== undefined });
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
