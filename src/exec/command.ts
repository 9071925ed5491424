/**
 * `clef-agent exec`: the agent's load, refresh loop and worker pool, with a child process instead
 * of (or, with `--serve`, beside) the HTTP API. The child gets the secrets as environment
 * variables (env.ts) and is started, signalled, stopped and restarted here (supervisor.ts).
 *
 * Rotation is observed, not wired in: the refresher emits `artifact.refreshed`, `artifact.revoked`
 * and `artifact.expired` like it always does, and this module observes those events; the serving
 * code does not know exec mode exists. The payload is read through the same serving mode the API
 * answers from (`agent.secrets()`): the cached snapshot's body, or in JIT mode one worker
 * decryption per start or change, whose buffer is zeroed once the environment is built.
 */
import { createHash, randomBytes } from 'node:crypto';
import { STOP_DEADLINE_MS } from '../../common/limits.js';
import { startAgent, type AgentHandle } from '../agent.js';
import type { Prepared } from '../cli/prepare.js';
import { ApiError } from '../errors.js';
import { takeSignal } from '../lifecycle/start-signals.js';
import { StartupError } from '../startup.js';
import type { EventName, EventFields } from '../telemetry/events.js';
import { flushFailedStart } from '../telemetry/index.js';
import { authHeaders } from '../telemetry/secret-headers.js';
import type { ExecOptions } from './args.js';
import { childEnvironment, ExecEnvError, inheritedEnvironment, type EnvNaming } from './env.js';
import { RestartLimiter } from './restart-limit.js';
import { ChildSupervisor, exitStatus, SpawnError, type ChildExit } from './supervisor.js';
import { inTerminalForeground } from './terminal.js';

/** Forwarded to the child as they arrive (SIGUSR1 is not: it stays refused, see daemon.ts). */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];
/** What a terminal sends its foreground process group (Ctrl-C, Ctrl-\): the child has them already there (terminal.ts). */
const TERMINAL_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set(['SIGINT', 'SIGQUIT']);
/** After one of these, the child's end is exec's end: it is not restarted. */
const TERMINATING: ReadonlySet<NodeJS.Signals> = new Set(['SIGINT', 'SIGTERM', 'SIGQUIT']);

/** One started child: whether exec itself is stopping it (a restart, a revocation) rather than it ending on its own. */
interface Generation {
  intentional: boolean;
}

/**
 * Runs until the child's end decides exec's: resolves with the exit status (the child's code, or
 * 128+n for signal n). Start-up failures resolve with the agent's codes (1 first load, 2 refused).
 */
export async function runExec(options: ExecOptions, prepared: Prepared): Promise<number> {
  const { config, log, events, telemetry } = prepared;
  // Taken after loadConfig and prepareAgent removed the key and tokens; every CLEF_AGENT_* goes too.
  const inherited = inheritedEnvironment(process.env);
  const naming: EnvNaming = { prefix: options.envPrefix, namespaces: options.namespaces, qualify: options.qualify, override: options.override };
  const supervisor = new ChildSupervisor(options.command, options.args);
  const limiter = new RestartLimiter();
  const graceMs = options.graceSeconds * 1000;
  const stopSignal: NodeJS.Signals = options.onChange.kind === 'restart' ? options.onChange.signal : 'SIGTERM';
  // Only a salted digest of the child's variables is kept, to tell whether a new artifact changes them.
  const salt = randomBytes(32);

  let terminating: NodeJS.Signals | undefined;
  let finished = false;
  let lastStatus: number | undefined;
  let childDigest: string | undefined;
  let generation: Generation | undefined;
  let finish!: (status: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));
  const end = (status: number): void => {
    if (finished) return;
    finished = true;
    finish(status);
  };

  if (process.pid === 1) {
    log.warn(
      { event: 'exec.pid1' },
      'running as PID 1: signals are handled and the child is reaped, but Node cannot reap orphaned grandchildren (no waitpid(-1) from JavaScript); run with an init (the clef-agent image runs tini; docker --init, ECS initProcessEnabled, Kubernetes shareProcessNamespace) if the command leaves orphans',
    );
  }

  let agent: AgentHandle | undefined;
  let loading = true;
  let childStarted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (TERMINATING.has(signal)) terminating ??= signal;
    if (supervisor.running()) {
      if (TERMINAL_SIGNALS.has(signal) && inTerminalForeground()) {
        log.debug({ event: 'exec.signal_not_forwarded', signal, pid: supervisor.pid }, `${signal} came from the terminal, which sent it to the child too`);
        return;
      }
      log.debug({ event: 'exec.signal_forwarded', signal, pid: supervisor.pid }, `forwarding ${signal} to the child`);
      supervisor.send(signal);
      return;
    }
    if (!TERMINATING.has(signal)) return;
    // No child to decide. Still loading: stop the load (the start-up path returns). The first start
    // under way: it forwards the signal once the child runs. Held after a revocation, or between a
    // stop and a start: exec ends now.
    if (loading) void agent?.close();
    else if (childStarted) end(lastStatus ?? exitStatus(null, signal));
  };
  for (const s of FORWARDED_SIGNALS) takeSignal(s, onSignal);

  try {
    agent = await startAgent(config, { log, events, listen: options.serve, pool: prepared.pool });
    if (terminating !== undefined) void agent.close();
    await agent.loaded;
    loading = false;
  } catch (err) {
    if (!(err instanceof StartupError)) throw err;
    await agent?.close();
    log.fatal({ event: 'agent.start_failed' }, err.message);
    await flushFailedStart(telemetry, STOP_DEADLINE_MS / 3);
    log.flush();
    process.stderr.write(`clef-agent: ${err.message}\nclef-agent exec: the command was not started\n`);
    return err.exitCode;
  }
  const handle = agent;
  const stopAll = async (): Promise<void> => {
    const deadline = setTimeout(() => {
      log.error({ event: 'agent.stop_timeout' }, 'graceful stop exceeded its deadline; exiting');
      log.flush();
      process.exit(lastStatus ?? 1);
    }, STOP_DEADLINE_MS);
    deadline.unref();
    await handle.close();
    await telemetry?.flush(STOP_DEADLINE_MS / 3);
    clearTimeout(deadline);
  };
  if (terminating !== undefined) {
    await stopAll();
    return exitStatus(null, terminating);
  }
  const meta = handle.meta();
  telemetry?.start(meta?.identity, meta?.environment, authHeaders(handle.takeTelemetryCredentials(), log), handle.metrics).catch(() => {
    log.warn({ event: 'telemetry.start_failed' }, 'telemetry export could not start; events are only logged');
  });

  /** The child's environment from the current artifact; the payload buffer is released (JIT: zeroed) before returning. */
  const readEnvironment = async (): Promise<Record<string, string>> => {
    const body = await handle.secrets();
    try {
      return childEnvironment(body.bytes, naming, inherited);
    } finally {
      body.release?.();
    }
  };

  const digest = (env: Readonly<Record<string, string>>): string => {
    const h = createHash('sha256').update(salt);
    for (const name of Object.keys(env).sort())
      h.update(name)
        .update('\0')
        .update(env[name] ?? '')
        .update('\0');
    return h.digest('hex');
  };

  const startChild = async (reason: 'start' | 'change' | 'exit' | 'republished', env?: Record<string, string>): Promise<void> => {
    const vars = env ?? (await readEnvironment());
    if (finished) return;
    const gen: Generation = { intentional: false };
    const { ended } = await supervisor.start(vars);
    childStarted = true;
    generation = gen;
    // A stop signal that came while it was being started: the child decides, like any other time.
    if (terminating !== undefined) supervisor.send(terminating);
    limiter.started(Date.now());
    childDigest = digest(vars);
    log.info(
      { event: 'exec.child_started', pid: supervisor.pid, reason, revision: handle.meta()?.revision, command: options.command.slice(0, 200) },
      `started the command (${reason})`,
    );
    void ended.then((exit) => onChildExit(exit, gen));
  };

  const onChildExit = (exit: ChildExit, gen: Generation): void => {
    lastStatus = exit.status;
    log.info({ event: 'exec.child_exited', code: exit.code, signal: exit.signal, status: exit.status, intentional: gen.intentional }, 'the command exited');
    if (gen.intentional) return; // a restart or a revocation stopped it and goes on from there
    if (terminating !== undefined || !options.restartOnExit) {
      end(exit.status);
      return;
    }
    enqueue(async () => {
      const wait = limiter.nextDelayMs(Date.now());
      if (wait > 0) log.info({ event: 'exec.restart_delayed', delayMs: wait }, `restarting the command in ${wait} ms (restart rate limit)`);
      await new Promise((r) => setTimeout(r, wait));
      if (terminating !== undefined) {
        end(exit.status);
        return;
      }
      await startChild('exit');
    });
  };

  /** Exec's reactions run one at a time, in order: a change during a restart waits for it. */
  let queue = Promise.resolve();
  const enqueue = (step: () => Promise<void>): void => {
    queue = queue.then(step).catch((err: unknown) => {
      if (err instanceof SpawnError) {
        log.error({ event: 'exec.spawn_failed', code: err.code }, err.message);
        end(err.status);
      } else if (err instanceof ExecEnvError) {
        // The command keeps its environment, or (stopped after a revocation) waits for a usable artifact.
        log.error({ event: 'exec.env_failed', code: err.code }, `the new artifact cannot become the command's environment: ${err.message}`);
      } else if (err instanceof ApiError) {
        log.warn(
          { event: 'exec.not_servable', reason: err.reason },
          `the secrets cannot be read now (${err.reason}); the command is not started until they can`,
        );
      } else {
        log.error({ event: 'exec.failed', error: err instanceof Error ? err.name : 'error' }, 'unexpected error in exec mode');
        end(70);
      }
    });
  };

  const stopChild = async (reason: string): Promise<ChildExit | undefined> => {
    if (generation !== undefined) generation.intentional = true;
    const exit = await supervisor.stop(stopSignal, graceMs);
    childDigest = undefined;
    if (exit !== undefined) {
      log.info(
        { event: 'exec.child_stopped', reason, signal: stopSignal, killed: exit.killed, status: exit.status },
        exit.killed ? `the command did not stop within ${options.graceSeconds} s of ${stopSignal}: killed (SIGKILL)` : `the command stopped (${reason})`,
      );
    }
    return exit;
  };

  const onChange = async (revision: unknown): Promise<void> => {
    if (terminating !== undefined || finished) return;
    const env = await readEnvironment();
    if (!supervisor.running()) {
      // Stopped after a revocation or expiry: a new, valid artifact brings it back.
      await startChild('republished', env);
      return;
    }
    const next = digest(env);
    if (next === childDigest) {
      log.info({ event: 'exec.unchanged', revision }, "new artifact: the command's variables are unchanged");
      return;
    }
    switch (options.onChange.kind) {
      case 'none':
        log.info(
          { event: 'exec.change_ignored', revision },
          'new artifact: the running command keeps its environment (--restart-on-change or --signal-on-change act on a change)',
        );
        return;
      case 'signal':
        childDigest = next;
        log.info({ event: 'exec.change_signalled', revision, signal: options.onChange.signal }, `new artifact: sent ${options.onChange.signal} to the command`);
        supervisor.send(options.onChange.signal);
        return;
      case 'restart': {
        const wait = limiter.nextDelayMs(Date.now());
        if (wait > 0) {
          log.info({ event: 'exec.restart_delayed', delayMs: wait }, `restarting the command in ${wait} ms (restart rate limit)`);
          await new Promise((r) => setTimeout(r, wait));
        }
        const exit = await stopChild('restart');
        if (terminating !== undefined) {
          end(exit?.status ?? exitStatus(null, terminating));
          return;
        }
        await startChild('change', env);
        return;
      }
    }
  };

  const onRevoked = async (why: 'revoked' | 'expired'): Promise<void> => {
    if (terminating !== undefined || finished || !supervisor.running()) return;
    if (options.keepOnRevoke) {
      log.warn({ event: 'exec.kept_on_revoke', reason: why }, `the artifact is ${why}, but --keep-on-revoke keeps the command running with the secrets it has`);
      return;
    }
    log.warn(
      { event: 'exec.stopping_child', reason: why },
      `the artifact is ${why}: stopping the command (it holds secrets that must no longer be used); it starts again when a valid artifact is published`,
    );
    const exit = await stopChild(why);
    if (terminating !== undefined) end(exit?.status ?? exitStatus(null, terminating));
  };

  // The first start heads the queue: a rotation observed while it reads the payload (a JIT
  // decryption) or spawns is handled after it, never beside it.
  const first = startChild('start');
  queue = first.catch(() => {
    // Reported below, by the start-up path.
  });
  const unobserve = events.observe((name: EventName, _severity, fields: EventFields) => {
    if (name === 'artifact.refreshed') enqueue(() => onChange(fields['revision']));
    else if (name === 'artifact.revoked') enqueue(() => onRevoked('revoked'));
    else if (name === 'artifact.expired') enqueue(() => onRevoked('expired'));
  });

  try {
    await first;
  } catch (err) {
    finished = true;
    unobserve();
    await stopAll();
    if (err instanceof SpawnError) {
      log.error({ event: 'exec.spawn_failed', code: err.code }, err.message);
      process.stderr.write(`clef-agent exec: ${err.message}\n`);
      return err.status;
    }
    if (err instanceof ExecEnvError) {
      log.error({ event: 'exec.env_failed', code: err.code }, err.message);
      process.stderr.write(`clef-agent exec: the secrets cannot become environment variables: ${err.message}\nclef-agent exec: the command was not started\n`);
      return 2;
    }
    if (err instanceof ApiError) {
      // Revoked or expired between the first load and the start.
      process.stderr.write(`clef-agent exec: the secrets cannot be read (${err.reason}); the command was not started\n`);
      return 1;
    }
    throw err;
  }

  const status = await done;
  unobserve();
  if (supervisor.running()) await supervisor.stop('SIGKILL', 0);
  await stopAll();
  log.info({ event: 'exec.exited', status }, `exiting with the command's status ${status}`);
  return status;
}
