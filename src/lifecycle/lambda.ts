/**
 * Lambda extension lifecycle (SPEC §6), when `AWS_LAMBDA_RUNTIME_API` is set.
 *
 * Order: the agent loads the artifact and listens first, and only then registers, because Lambda
 * starts the function's own init once every extension has registered: the function never asks an
 * unready agent. Then the `event/next` loop. Between invocations Lambda freezes the sandbox, so no
 * timer is relied on: the poll timer is off, and each INVOKE does the refresh that is due
 * (`AgentHandle.invoke`) before the extension asks for the next event, while requests keep being
 * served from the last good snapshot. SHUTDOWN stops the agent, flushes telemetry and exits before
 * its `deadlineMs`.
 */
import { basename } from 'node:path';
import { LAMBDA_LIMITS } from '../../common/limits.js';
import type { AgentHandle } from '../agent.js';
import type { Logger } from '../log.js';
import type { Events } from '../telemetry/events.js';
import type { Telemetry } from '../telemetry/index.js';
import { ExtensionsApiError, type ExtensionsApi, type ReportedError } from './extensions-api.js';
import { takeSignal } from './start-signals.js';

/** The extension's name when CLEF_AGENT_LAMBDA_EXTENSION_NAME is unset: the executable's file name. */
export function defaultExtensionName(): string {
  // The binary runs as itself (argv[1] is the binary too); node runs dist/src/main.js.
  return basename(process.argv[1] ?? process.execPath);
}

export interface LambdaDeps {
  readonly api: ExtensionsApi;
  readonly name: string;
  readonly log: Logger;
  readonly events: Events;
  readonly telemetry?: Telemetry | undefined;
}

/**
 * Init failed (the configuration, the age key, the first load): register — `/init/error` needs
 * the identifier — then report it and let the caller exit non-zero. The message is the one the
 * daemon prints: the source with its credentials masked, never a secret.
 */
export async function reportInitError(api: ExtensionsApi, name: string, error: ReportedError, log: Logger): Promise<void> {
  try {
    await api.register(name);
    await api.initError(error);
    log.info({ event: 'lambda.init_error_reported', errorType: error.type }, 'init failure reported to Lambda (/init/error)');
  } catch (err) {
    log.error({ event: 'lambda.api_failed', code: apiCode(err) }, `could not report the init failure to the Extensions API: ${(err as Error).message}`);
  }
}

/**
 * Runs the extension after a successful first load: register, then the event loop until SHUTDOWN
 * (or SIGTERM/SIGINT, treated as a SHUTDOWN with the daemon's short deadline). Never returns: the
 * process exits 0 after a clean shutdown, 1 after a fatal error (reported through `/exit/error`
 * when the extension is registered).
 */
export async function runAsLambdaExtension(agent: AgentHandle, deps: LambdaDeps): Promise<never> {
  const { api, log } = deps;
  let registered = false;
  let stopping = false;
  const shutdown = (deadlineMs: number, reason: string): Promise<never> => {
    if (stopping) return new Promise<never>(() => undefined);
    stopping = true;
    return stopWithin(agent, deps, deadlineMs, reason);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    void shutdown(Date.now() + SIGNAL_SHUTDOWN_MS, signal);
  };
  takeSignal('SIGTERM', onSignal);
  takeSignal('SIGINT', onSignal);

  try {
    const id = await api.register(deps.name);
    registered = true;
    log.info({ event: 'lambda.registered', name: deps.name, extensionId: id }, `registered with the Lambda Extensions API as ${deps.name}`);
    for (;;) {
      const event = await api.next();
      if (stopping) return await new Promise<never>(() => undefined);
      if (event.eventType === 'SHUTDOWN') return await shutdown(event.deadlineMs, event.shutdownReason);
      const started = Date.now();
      // A refresh that fails keeps the last good snapshot (SPEC §4.3); only the API failing is fatal.
      const result = await agent.invoke().catch((err: unknown) => {
        log.warn({ event: 'lambda.invoke_refresh_failed' }, `INVOKE refresh failed: ${(err as Error).message}`);
        return undefined;
      });
      log.debug(
        {
          event: 'lambda.invoke',
          requestId: event.requestId,
          refreshed: result === undefined ? 'not_due' : result.ok ? result.outcome : `failed:${result.code}`,
          ms: Date.now() - started,
        },
        'INVOKE handled',
      );
    }
  } catch (err) {
    if (stopping) return await new Promise<never>(() => undefined);
    const message = `Lambda Extensions API: ${(err as Error).message}`;
    log.fatal({ event: 'lambda.fatal', code: apiCode(err) }, message);
    if (registered) {
      await api.exitError({ type: 'Extension.ApiFailed', message }).catch((e: unknown) => {
        log.error({ event: 'lambda.api_failed', code: apiCode(e) }, `could not report the error (/exit/error): ${(e as Error).message}`);
      });
    }
    stopping = true;
    await Promise.race([agent.close(), new Promise((r) => setTimeout(r, FATAL_CLOSE_MS))]);
    log.flush(() => process.exit(1));
    return await new Promise<never>(() => undefined);
  }
}

/** SIGTERM/SIGINT outside a SHUTDOWN event: as long as Lambda's shutdown phase with external extensions. */
const SIGNAL_SHUTDOWN_MS = 2_000;
/** A fatal error closes the agent (drops its secrets) for at most this long before exiting. */
const FATAL_CLOSE_MS = 1_000;

/**
 * SHUTDOWN: stop (no new requests, drop every secret), emit `agent.stopped`, flush telemetry with
 * what the deadline leaves, and exit — before `deadlineMs` whatever happens: past the margin the
 * process exits without waiting for the rest.
 */
async function stopWithin(agent: AgentHandle, deps: LambdaDeps, deadlineMs: number, reason: string): Promise<never> {
  const { log, events, telemetry } = deps;
  const exitBy = deadlineMs - LAMBDA_LIMITS.shutdownMarginMs;
  log.info({ event: 'agent.stopping', reason, deadlineMs, leftMs: deadlineMs - Date.now() }, 'SHUTDOWN: stopping before the deadline');
  let closed = false;
  const hard = setTimeout(
    () => {
      // Stopped (no listener, no secret) and only the telemetry flush cut short: still a clean stop.
      if (closed) log.warn({ event: 'telemetry.flush_cut' }, 'SHUTDOWN deadline reached during the telemetry flush; exiting');
      else log.error({ event: 'agent.stop_timeout' }, 'SHUTDOWN deadline reached before the stop finished; exiting');
      log.flush();
      process.exit(closed ? 0 : 1);
    },
    Math.max(0, exitBy - Date.now()),
  );
  try {
    await agent.close();
    closed = true;
    events.emit('agent.stopped', { reason }, 'stopped');
    // All the time left: the shutdown phase has nothing else to do.
    await telemetry?.flush(Math.max(0, exitBy - Date.now()));
  } catch (err) {
    log.error({ event: 'agent.stop_failed' }, `stop failed: ${(err as Error).message}`);
    clearTimeout(hard);
    log.flush(() => process.exit(1));
    return new Promise<never>(() => undefined);
  }
  clearTimeout(hard);
  log.info({ event: 'lambda.exiting', leftMs: deadlineMs - Date.now() }, 'stopped; exiting');
  log.flush(() => process.exit(0));
  return new Promise<never>(() => undefined);
}

function apiCode(err: unknown): string {
  return err instanceof ExtensionsApiError ? err.code : 'internal';
}
