/**
 * Replays test/corpus/pending: cases whose expected outcome holds only after fixes on other
 * branches are merged (duplicate Host → 400 invalid_host; control characters in signed fields →
 * invalid_shape; packedAt ahead of the clock → clock_skew; the pipelined 100 Continue framing).
 * Not a `.test.ts` file, so the suite does not run it yet: once a fix is merged, move its cases
 * into test/corpus/{http,artifacts} (files and expected.json entries); when pending/ is empty,
 * delete this file. Run it by hand with `node --test dist/test/fuzz/corpus-pending.js`.
 */
import { join } from 'node:path';
import { corpusSuites } from './corpus-suite.js';
import { CORPUS } from './corpus.js';

corpusSuites(join(CORPUS, 'pending'), 'pending corpus');
