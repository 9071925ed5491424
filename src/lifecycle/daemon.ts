import { STOP_DEADLINE_MS } from '../../common/limits.js';
import type { AgentHandle } from '../agent.js';
import type { Logger } from '../log.js';

/**
 * Daemon lifecycle (SPEC §6): SIGTERM/SIGINT stop polling and accepting, let in-flight requests
 * finish (bounded), destroy the pool, flush logs and exit 0. A second signal exits at once.
 */
export function runAsDaemon(agent: AgentHandle, log: Logger): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ event: 'agent.stop_forced', signal }, 'second signal: exiting now');
      log.flush();
      process.exit(1);
    }
    stopping = true;
    log.info({ event: 'agent.stopping', signal }, 'stopping: draining in-flight requests');
    const deadline = setTimeout(() => {
      log.error({ event: 'agent.stop_timeout' }, 'graceful stop exceeded its deadline; exiting');
      log.flush();
      process.exit(1);
    }, STOP_DEADLINE_MS);
    deadline.unref();
    agent.close().then(
      () => {
        log.info({ event: 'agent.stopped', signal }, 'stopped');
        log.flush(() => process.exit(0));
      },
      () => {
        log.flush(() => process.exit(1));
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/**
 * SIGUSR1 would make Node open an inspector port (a debugger attached to a process holding
 * secrets). Handling the signal replaces that default (SPEC §5.1).
 */
export function refuseInspectorSignal(log: Logger): void {
  process.on('SIGUSR1', () => log.warn({ event: 'inspector.refused' }, 'SIGUSR1 received: the inspector is disabled in clef-agent'));
}
