/**
 * The thread line is an import line (eslint.config.js): each fixture is a deliberately bad import,
 * linted with the project's real ESLint configuration as if it were the named file, and must be
 * refused by `no-restricted-imports`. The allowed direction (both sides importing common/, a
 * benchmark starting an emulator) must lint clean of that rule.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { ESLint } from 'eslint';

/** The repository root: this file runs as dist/test/lint/boundaries.test.js. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const fixture = (name: string): string => readFileSync(`${ROOT}test/lint/fixtures/${name}.txt`, 'utf8');

async function restrictedImports(code: string, asFile: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: ROOT });
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}${asFile}` });
  assert.ok(result !== undefined);
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('lint: the thread boundary is an import boundary', () => {
  const refused: readonly (readonly [fixture: string, asFile: string, says: string])[] = [
    ['main-imports-worker', 'src/pool.ts', 'src/ must not import workers/'],
    ['worker-imports-main', 'workers/load.ts', 'workers/ must not import src/'],
    ['common-imports-worker', 'common/net.ts', 'common/ must not import workers/'],
    ['tool-imports-worker', 'tools/pack/kms.ts', 'tools/ must not import workers/'],
    ['bench-imports-test', 'bench/run.ts', 'bench/ must not import test/'],
    ['client-imports-main', 'client/index.ts', 'client/ must not import src/'],
    ['client-imports-package', 'client/index.ts', 'client/ must not import packages'],
  ];
  for (const [name, asFile, says] of refused) {
    test(`${name}: refused in ${asFile}`, async () => {
      const messages = await restrictedImports(fixture(name), asFile);
      assert.equal(messages.length, 1, messages.join('\n'));
      assert.match(messages[0] ?? '', new RegExp(says.replace(/[/]/g, '\\/')));
    });
  }

  test('the allowed directions lint clean', async () => {
    const allowed: readonly (readonly [code: string, asFile: string])[] = [
      ["import { isLoopbackHost } from '../common/net.js';\nexport const a = isLoopbackHost;\n", 'src/pool.ts'],
      ["import { isLoopbackHost } from '../common/net.js';\nexport const a = isLoopbackHost;\n", 'workers/load.ts'],
      ["import { KmsServer } from '../emulators/kms-server.js';\nexport const a = KmsServer;\n", 'bench/run.ts'],
      ["import http from 'node:http';\nimport { call } from './transport.js';\nexport const a = [http, call];\n", 'client/index.ts'],
    ];
    for (const [code, asFile] of allowed) assert.deepEqual(await restrictedImports(code, asFile), [], asFile);
  });
});
