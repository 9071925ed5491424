/**
 * Signals that arrive while the agent starts, before its lifecycle handles them. Until a process
 * has a listener, Node applies the default: SIGHUP and SIGTERM end the process on the spot (no
 * `exit` handler runs, so the binary's private directory of worker code stayed in /tmp), and
 * SIGUSR1 opens an inspector port. The lifecycles install their handlers late (the daemon's once
 * the agent listens, the inspector refusal once the logger exists, exec's once its agent is
 * configured), so without this a `systemctl reload` sent right after `systemctl start` killed the
 * agent, and a SIGUSR1 after the start-up inspector check opened a debugger on a process that
 * already held the age key.
 *
 * src/cli/early-start.ts holds the signals first thing, each with what to do meanwhile: `count`
 * (SIGUSR1, and the daemon's SIGHUP, which becomes one reload once the agent runs) or `exit` (stop
 * now, through process.exit so the exit handlers run, with the status the command would give after
 * start-up). Each lifecycle then takes its signals over (`takeSignal`). Only node:os (loaded
 * anyway) is imported: this loads before the worker pool starts.
 */
import { constants } from 'node:os';

/**
 * While held: count the signal for the lifecycle, or exit, with status 0 (`clean`, as the daemon's
 * stop) or the shell's status for a death by that signal (`signal`: 128+n, as exec's).
 */
export type HoldPolicy = 'count' | { readonly exit: 'clean' | 'signal' };

/** The shell's status for a process ended by `signal`: 128 + the signal's number. */
export function signalExitStatus(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

const held = new Map<NodeJS.Signals, { count: number; readonly listener: () => void }>();

/** Applies `policies` to their signals from now on instead of Node's defaults, until `takeSignal`. */
export function holdSignals(policies: Readonly<Partial<Record<NodeJS.Signals, HoldPolicy>>>): void {
  for (const [signal, policy] of Object.entries(policies) as [NodeJS.Signals, HoldPolicy][]) {
    if (held.has(signal)) continue;
    const entry = {
      count: 0,
      listener: () => {
        entry.count++;
        if (policy !== 'count') process.exit(policy.exit === 'clean' ? 0 : signalExitStatus(signal));
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
