/**
 * Run as a child process: starts the real agent (loadConfig + startAgent) from the environment,
 * waits for the first load, and prints the URLs of every module resolved on the main thread, one
 * per line, after `MODULES:`. Argument: the file the loader hooks append to.
 */
import { readFileSync } from 'node:fs';
import { register } from 'node:module';
import { pino } from 'pino';

const traceFile = process.argv[2] ?? '';
register(new URL('./module-trace-hooks.js', import.meta.url), { data: { file: traceFile } });

const { loadConfig } = await import('../../src/config/index.js');
const { startAgent } = await import('../../src/agent.js');
const agent = await startAgent(loadConfig(process.env), { log: pino({ level: 'silent' }) });
await agent.loaded;
process.stdout.write(`MODULES:\n${readFileSync(traceFile, 'utf8')}`);
await agent.close();
