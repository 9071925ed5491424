/**
 * Fixtures for the config-*.test.ts suites: run the real CLI with an environment that is valid
 * except for what a test changes, and check that it refuses to start — message on stderr, exit
 * code 2, nothing listening — without echoing secrets.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AgentProcess } from '../kit/index.js';
import { ageKeyPair } from './artifacts.js';

export const VALID_TOKEN = 'c0nf1g'.repeat(8);

/**
 * A config that passes validation: a file source (it need not exist), an inline age key (a fresh
 * one, valid but never used to decrypt anything here), a token.
 */
export async function baseEnv(dir: string): Promise<Record<string, string>> {
  return {
    CLEF_AGENT_SOURCE: join(dir, 'artifact.json'),
    CLEF_AGENT_AGE_KEY: (await ageKeyPair()).identity,
    CLEF_AGENT_TOKEN: VALID_TOKEN,
    CLEF_AGENT_WORKERS: '1',
  };
}

export interface Refusal {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the CLI with `base` overridden by `changes` (`null` removes a variable) and waits for it to
 * exit; one that starts serving instead is killed after 20 s (its code is then null).
 */
export async function runCli(base: Record<string, string>, changes: Record<string, string | null>, o: { cwd?: string } = {}): Promise<Refusal> {
  const env: Record<string, string> = { ...base };
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) delete env[k];
    else env[k] = v;
  }
  const agent = new AgentProcess(env, o.cwd === undefined ? {} : { cwd: o.cwd });
  const code = await agent.exited(20_000);
  return { code, stdout: agent.stdout, stderr: agent.stderr };
}

/**
 * The configuration was refused: exit 2, stderr is exactly the header plus `lines` (in order),
 * nothing listened (no log line at all: the logger only exists after a valid config), and none of
 * `secrets` appears anywhere in the output.
 */
export function assertRefused(r: Refusal, lines: readonly string[], secrets: readonly string[] = []): void {
  assert.equal(r.code, 2, `exit code 2; stderr: ${r.stderr}`);
  assert.equal(r.stderr, `clef-agent: invalid configuration:\n${lines.join('\n')}\n`);
  assert.ok(!r.stdout.includes('"listening"'), 'nothing listened');
  assert.equal(r.stdout, '', 'no log line before the configuration is valid');
  for (const s of secrets) assert.ok(!(r.stdout + r.stderr).includes(s), `the secret ${s.slice(0, 6)}… is not echoed`);
}

/** Refused after the configuration parsed (e.g. the key check): exit 2, `message` on stderr, never listening. */
export function assertRefusedBeforeListening(r: Refusal, message: RegExp, secrets: readonly string[] = []): void {
  assert.equal(r.code, 2, `exit code 2; stderr: ${r.stderr}`);
  assert.match(r.stderr, message);
  assert.ok(!r.stdout.includes('"listening"'), 'nothing listened');
  for (const s of secrets) assert.ok(!(r.stdout + r.stderr).includes(s), `the secret ${s.slice(0, 6)}… is not echoed`);
}
