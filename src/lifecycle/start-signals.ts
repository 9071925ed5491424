/**
 * Signals that arrive while the agent starts, before its lifecycle handles them. Until a process
 * has a listener, Node applies the default: SIGHUP ends the process, and SIGUSR1 opens an
 * inspector port. The daemon's SIGHUP handler (daemon.ts) is installed once the agent listens, and
 * the inspector refusal (`refuseInspectorSignal`) once the logger exists, so without this a
 * `systemctl reload` sent right after `systemctl start` killed the agent, and a SIGUSR1 after the
 * start-up inspector check opened a debugger on a process that already held the age key.
 *
 * src/cli/early-start.ts holds the signals first thing; each lifecycle then takes its signal over
 * (`takeSignal`) and learns how many arrived meanwhile, so a SIGHUP during start-up becomes one
 * reload once the agent runs. No imports: this loads before the worker pool starts.
 */

const held = new Map<NodeJS.Signals, { count: number; readonly listener: () => void }>();

/** Counts each of `signals` from now on instead of Node's default, until `takeSignal`. */
export function holdSignals(signals: readonly NodeJS.Signals[]): void {
  for (const signal of signals) {
    if (held.has(signal)) continue;
    const entry = {
      count: 0,
      listener: () => {
        entry.count++;
      },
    };
    held.set(signal, entry);
    process.on(signal, entry.listener);
  }
}

/**
 * Hands `signal` to `listener` from now on and answers how many arrived while it was held (0 when
 * it was never held). The listener is added before the hold is removed: were the hold removed
 * first, Node would restore the signal's default for that instant, and a SIGHUP then would still
 * end the process.
 */
export function takeSignal(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): number {
  process.on(signal, listener);
  const entry = held.get(signal);
  if (entry === undefined) return 0;
  held.delete(signal);
  process.removeListener(signal, entry.listener);
  return entry.count;
}
