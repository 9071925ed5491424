/**
 * Preloaded with `--import` (through NODE_OPTIONS) into an agent process: records every module it
 * resolves into the file named by CLEF_TEST_MODULE_TRACE.
 */
import { register } from 'node:module';

const file = process.env['CLEF_TEST_MODULE_TRACE'];
if (file !== undefined) register('./module-trace-hooks.js', import.meta.url, { data: { file } });
