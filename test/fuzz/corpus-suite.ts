/**
 * The corpus replay as node:test suites for one corpus root (`<root>/http`, `<root>/artifacts`):
 * every request against a real cached agent (statuses and reasons as listed, no secret without the
 * token, the agent alive after each), every artifact through the worker's load task (outcome as
 * listed, failure codes from the failure table).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FAILURES } from '../../common/failures.js';
import { ageKeyPair, samplePayload, signingKey } from '../helpers/artifacts.js';
import { startFileAgent, type FileAgent } from '../helpers/http-fixtures.js';
import { suiteTempDirs } from '../kit/index.js';
import { artifactContext, readTable, replayArtifact, replayHttp, type ArtifactContext, type ArtifactExpectation, type HttpExpectation } from './corpus.js';

const TAG = 'CORPUSSECRET';

export function corpusSuites(root: string, label: string): void {
  describe(`${label}: HTTP requests against a real agent`, { timeout: 120_000 }, () => {
    const dir = join(root, 'http');
    const table = readTable<HttpExpectation>(dir);
    let fa: FileAgent;
    before(async () => {
      fa = await startFileAgent({ payload: samplePayload(TAG) });
    });
    after(() => fa?.close());
    for (const [file, e] of Object.entries(table)) {
      it(`${file}: ${e.why}`, async () => {
        const o = await replayHttp(join(dir, file), fa.agent.port, fa.agent.token);
        const c = fa.agent.child;
        assert.ok(c.exitCode === null && c.signalCode === null, 'the agent exited');
        assert.deepEqual(o.statuses, e.statuses, o.received.slice(0, 500));
        if (e.reasons) assert.deepEqual(o.reasons, e.reasons);
        assert.ok(!o.received.includes(fa.agent.token), 'the token in a response');
        if (!readFileText(join(dir, file)).includes('{{TOKEN}}')) assert.ok(!o.received.includes(TAG), 'a secret without the token');
      });
    }
  });

  describe(`${label}: artifacts through the worker load task`, { timeout: 120_000 }, () => {
    const dir = join(root, 'artifacts');
    const table = readTable<ArtifactExpectation>(dir);
    const tmp = suiteTempDirs('clef-corpus-').make();
    let c: ArtifactContext;
    before(async () => {
      c = await artifactContext(await ageKeyPair(), signingKey('ed25519'), tmp, samplePayload(TAG));
    });
    for (const [file, e] of Object.entries(table)) {
      it(`${file}: ${e.why}`, async () => {
        const { outcome, result } = await replayArtifact(join(dir, file), c, e.sign === true);
        assert.equal(outcome, e.outcome, result.ok ? outcome : result.message);
        if (!result.ok) {
          assert.ok(FAILURES[result.code], `code ${result.code} is not in the failure table`);
          assert.ok(!result.message.includes(TAG));
        }
      });
    }
  });
}

function readFileText(path: string): string {
  return readFileSync(path, 'latin1');
}
