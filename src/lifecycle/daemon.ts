import { STOP_DEADLINE_MS } from '../../common/limits.js';
import type { AgentHandle } from '../agent.js';
import type { Logger } from '../log.js';
import { Events } from '../telemetry/events.js';
import type { Telemetry } from '../telemetry/index.js';
import { takeSignal } from './start-signals.js';

/** Left for the log flush and exit after the telemetry flush. */
const EXIT_MARGIN_MS = 1000;

/**
 * Daemon lifecycle (SPEC §6): SIGTERM/SIGINT stop polling and accepting, let in-flight requests
 * finish (bounded), destroy the pool, flush telemetry (with what is left of the deadline) and logs,
 * exit 0. A second signal exits at once.
 */
export function runAsDaemon(agent: AgentHandle, log: Logger, events: Events = new Events(log), telemetry?: Telemetry): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ event: 'agent.stop_forced', signal }, 'second signal: exiting now');
      log.flush();
      process.exit(1);
    }
    stopping = true;
    const startedAt = Date.now();
    log.info({ event: 'agent.stopping', signal }, 'stopping: draining in-flight requests');
    const deadline = setTimeout(() => {
      log.error({ event: 'agent.stop_timeout' }, 'graceful stop exceeded its deadline; exiting');
      log.flush();
      process.exit(1);
    }, STOP_DEADLINE_MS);
    deadline.unref();
    agent.close().then(
      async () => {
        events.emit('agent.stopped', { signal }, 'stopped');
        await telemetry?.flush(Math.max(0, STOP_DEADLINE_MS - EXIT_MARGIN_MS - (Date.now() - startedAt)));
        log.flush(() => process.exit(0));
      },
      () => {
        log.flush(() => process.exit(1));
      },
    );
  };
  takeSignal('SIGTERM', stop);
  takeSignal('SIGINT', stop);
  // SPEC §10.5: reload instead of Node's default for SIGHUP, which is to exit. Failures are logged
  // by the reload itself and never stop the agent.
  const reload = (): void => {
    if (stopping) return;
    agent.reload().catch((err: unknown) => {
      log.error({ event: 'reload.failed' }, `reload failed: ${err instanceof Error ? err.name : typeof err}`);
    });
  };
  // Held since start-up (start-signals.ts): the files may have changed after the configuration read
  // them, so SIGHUPs that came meanwhile are one reload now.
  const early = takeSignal('SIGHUP', reload);
  if (early > 0) {
    log.info({ event: 'reload.deferred', signals: early }, 'SIGHUP received during start-up: reloading now');
    reload();
  }
}

/**
 * SIGUSR1 would make Node open an inspector port (a debugger attached to a process holding
 * secrets). Handling the signal replaces that default (SPEC §5.1); until the logger exists,
 * start-signals.ts holds it.
 */
export function refuseInspectorSignal(log: Logger): void {
  const refused = (): void => log.warn({ event: 'inspector.refused' }, 'SIGUSR1 received: the inspector is disabled in clef-agent');
  // Held since start-up (start-signals.ts), before the logger existed.
  if (takeSignal('SIGUSR1', refused) > 0) refused();
}
