/**
 * Issue 17's bar, with exec as a container's PID 1: in a new PID namespace
 * (`unshare --pid --fork --mount-proc`, what a container runtime gives its entrypoint),
 * `clef-agent exec --restart-on-change -- sh -c 'echo $app__API_KEY; sleep 100'` prints the secret,
 * prints the rotated value once a new artifact is published, and exits with the command's status on
 * SIGTERM (which a PID 1 without a handler would ignore). It warns that orphaned grandchildren are
 * not reaped (Node has no waitpid(-1); see the README's "Exec mode" section).
 *
 * Where unshare is missing or not permitted, the documented substitute runs: the same scenario
 * with exec as an ordinary child process (everything but the PID 1 part).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { ageKeyPair, artifactJson } from '../helpers/artifacts.js';
import { newToken, POLLING_ENV } from '../helpers/scenario.js';
import { AgentProcess, MAIN, waitUntil } from '../kit/index.js';

const UNSHARE = ['--pid', '--fork', '--mount-proc'];
const pidNamespaces = spawnSync('unshare', [...UNSHARE, 'true'], { stdio: 'ignore', timeout: 10_000 }).status === 0;

/** The pid (in our namespace) of the process unshare forked: exec, PID 1 inside. */
function forkedChild(unsharePid: number): number | undefined {
  const children = readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').trim();
  return children === '' ? undefined : Number(children.split(' ')[0]);
}

describe("exec as PID 1: the issue's bar", () => {
  it(
    `prints the secret, then the rotated one, and exits 143 on SIGTERM${pidNamespaces ? ' (PID 1 in a new PID namespace)' : ' (substitute: unshare unavailable, exec is not PID 1)'}`,
    { timeout: 60_000 },
    async (t) => {
      const key = await ageKeyPair();
      const server = await new ArtifactServer().start();
      server.body = await artifactJson({
        recipient: key.recipient,
        payload: { app: { API_KEY: 'bar-first' } },
        packedAt: new Date(Date.now() - 60_000).toISOString(),
      });
      const args = ['exec', '--restart-on-change', '--', 'sh', '-c', 'echo $app__API_KEY; sleep 100'];
      const proc = new AgentProcess(
        { CLEF_AGENT_AGE_KEY: key.identity, CLEF_AGENT_TOKEN: newToken(), CLEF_AGENT_WORKERS: '1', CLEF_AGENT_SOURCE: server.url(), ...POLLING_ENV },
        pidNamespaces ? { binary: 'unshare', args: [...UNSHARE, process.execPath, MAIN, ...args], logsOn: 'stderr' } : { args, logsOn: 'stderr' },
      );
      t.after(async () => {
        await proc.stop({ killAfterMs: 5000 });
        await server.close();
      });
      const printed = (v: string): Promise<boolean> =>
        waitUntil(() => proc.stdout.includes(`${v}\n`) || (proc.child.exitCode !== null ? assert.fail(proc.output) : undefined), 30_000, v, 25);
      await printed('bar-first');
      if (pidNamespaces) await proc.waitForLog((l) => l.event === 'exec.pid1');
      server.body = await artifactJson({ recipient: key.recipient, payload: { app: { API_KEY: 'bar-rotated' } } });
      await printed('bar-rotated');

      // SIGTERM to exec itself: inside the namespace that is PID 1, which only a handled signal reaches.
      const target = pidNamespaces ? forkedChild(proc.child.pid ?? 0) : proc.child.pid;
      assert.ok(target !== undefined);
      process.kill(target, 'SIGTERM');
      // sh dies of the forwarded SIGTERM: 128 + 15. (Leaving the namespace also ends the orphaned `sleep`s.)
      const exited = await new Promise<number | null>((resolve) => proc.child.once('exit', (code) => resolve(code)));
      assert.equal(exited, 143, proc.output);
      assert.ok(proc.logs().some((l) => l.event === 'exec.exited' && l['status'] === 143));
      if (!pidNamespaces) proc.child.stdout?.destroy(); // the substitute's orphaned `sleep 100` still holds the pipe
    },
  );
});
