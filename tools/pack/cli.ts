#!/usr/bin/env node
/**
 * Standalone `clef-agent pack` entry (`node dist/tools/pack/cli.js …`), used by the tests to run the real
 * command in a child process independently of src/main.ts.
 */
import { runPack } from './command.js';

// exitCode, not process.exit(): exit() could cut off a large artifact still draining into a pipe.
process.exitCode = await runPack(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
