/**
 * Run as a child process: imports the worker entry (workers/index.ts) on a fresh module graph with
 * the tracing loader hooks registered first, runs one task given as JSON (`{ task, ageKey? }`,
 * the key as UTF-8 text), and prints the task's outcome and every module URL resolved, after
 * `MODULES:`. Arguments: the trace file, the task JSON.
 */
import { readFileSync } from 'node:fs';
import { register } from 'node:module';

const [traceFile = '', spec = '{}'] = process.argv.slice(2);
register(new URL('./module-trace-hooks.js', import.meta.url), { data: { file: traceFile } });

const { task, ageKey } = JSON.parse(spec) as { task: Parameters<typeof runTask>[0]; ageKey?: string };
const { runTask } = await import('../../workers/index.js');
const result = await runTask(task, ageKey === undefined ? {} : { ageKey: { kind: 'inline', bytes: Buffer.from(ageKey, 'utf8') } });
const outcome = result.ok ? ('outcome' in result ? result.outcome : 'ok') : `${result.code}: ${result.message}`;
process.stdout.write(`OUTCOME: ${outcome}\nMODULES:\n${readFileSync(traceFile, 'utf8')}`);
