/**
 * What `serve` and `exec` do once the configuration is read and the pool started
 * (src/cli/early-start.ts), in the same order: create the logger, refuse SIGUSR1 (the inspector's
 * signal), log `agent.starting` and the
 * configuration warnings, set up telemetry, and in a Lambda sandbox name the extension.
 */
import { refuseInspectorSignal } from '../lifecycle/daemon.js';
import { defaultExtensionName } from '../lifecycle/lambda.js';
import type { ExtensionsApi } from '../lifecycle/extensions-api.js';
import { createLogger, type LogDestination, type Logger } from '../log.js';
import type { Config } from '../config/types.js';
import type { WorkerPool } from '../pool.js';
import { Events } from '../telemetry/events.js';
import { setUpTelemetry, type Telemetry } from '../telemetry/index.js';
import type { Early } from './early-start.js';
import { packageVersion } from './version.js';

export interface Prepared {
  readonly version: string;
  readonly config: Config;
  /** Started by early-start.ts; `startAgent` takes it over (`AgentDeps.pool`). */
  readonly pool: WorkerPool;
  readonly log: Logger;
  readonly events: Events;
  readonly telemetry: Telemetry | undefined;
  /** Set when running as a Lambda extension (`serve` with AWS_LAMBDA_RUNTIME_API, SPEC §6). */
  readonly lambda?: { readonly api: ExtensionsApi; readonly name: string } | undefined;
}

export function prepareAgent(early: Early, command: 'serve' | 'exec', logTo?: LogDestination): Prepared {
  const { config, pool, lambdaApi } = early;
  const version = packageVersion();
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
  if (lambdaApi === undefined) return { version, config, pool, log, events, telemetry };
  const name = config.lambdaExtensionName ?? defaultExtensionName();
  log.info({ event: 'lambda.mode', name }, 'running as a Lambda extension');
  return { version, config, pool, log, events, telemetry, lambda: { api: lambdaApi, name } };
}
