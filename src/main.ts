#!/usr/bin/env node
/**
 * The `clef-agent` command: a dispatcher that imports only the usage texts up front. Each command
 * is loaded when chosen, so `check` (a probe run every few seconds) and `--help`/`--version` never
 * load the agent, and the agent's main thread never loads age-encryption (pack) or the load
 * generator.
 */
import { MAIN_USAGE, SERVE_USAGE } from './cli/usage.js';

const HELP = new Set(['--help', '-h']);

async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  const io = { stdout: process.stdout, stderr: process.stderr, env: process.env };
  switch (command) {
    case 'serve': {
      if (rest.length === 0) {
        const { runServe } = await import('./cli/serve.js');
        return runServe();
      }
      if (rest.length === 1 && HELP.has(rest[0] ?? '')) return help(SERVE_USAGE);
      return usageError('clef-agent serve', `${describe(rest[0] ?? '')}: serve takes no flags (its settings are CLEF_AGENT_* variables)`, SERVE_USAGE);
    }
    case 'exec': {
      const { runExecCommand } = await import('./cli/exec.js');
      return runExecCommand(rest);
    }
    case 'check': {
      const { runCheck } = await import('./cli/check.js');
      return runCheck(rest, io);
    }
    case 'pack': {
      // Loaded only for this subcommand: the agent's main thread never imports age-encryption.
      const { runPack } = await import('../tools/pack/command.js');
      return runPack(rest, io);
    }
    case 'loadtest': {
      const { runLoadtest } = await import('../tools/loadtest/index.js');
      return runLoadtest(rest, io);
    }
    case '--version':
    case 'version': {
      const { packageVersion } = await import('./cli/version.js');
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    }
    case '--help':
    case '-h':
    case 'help':
      return help(MAIN_USAGE);
    default:
      return usageError('clef-agent', command.startsWith('-') ? describe(command) : `unknown command "${command.slice(0, 40)}"`, MAIN_USAGE);
  }
}

function help(text: string): number {
  process.stdout.write(text);
  return 0;
}

function usageError(prefix: string, message: string, usage: string): number {
  process.stderr.write(`${prefix}: ${message}\n\n${usage}`);
  return 2;
}

/** An unexpected argument as an error message: a flag by its name only (a value could be a secret pasted in the wrong place). */
function describe(arg: string): string {
  return arg.startsWith('-') ? `unknown flag ${JSON.stringify(arg.split('=')[0]?.slice(0, 40) ?? '')}` : 'unexpected argument';
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
    if (code > 0) setImmediate(() => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`clef-agent: unexpected error: ${err instanceof Error ? err.name : 'error'}\n`);
    process.exit(70);
  },
);
