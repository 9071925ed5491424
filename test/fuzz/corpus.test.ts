/** Replays test/corpus/http and test/corpus/artifacts (see test/corpus/README.md). */
import { corpusSuites } from './corpus-suite.js';
import { CORPUS } from './corpus.js';

corpusSuites(CORPUS, 'corpus');
