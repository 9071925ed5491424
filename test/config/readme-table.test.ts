/**
 * The README's configuration table documents the settings table (src/config/variables.ts): the
 * same variables, in the same order, with the same defaults. A setting added, removed or given a
 * new default in code fails here until the README says so too.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { VARIABLE_LIST } from '../../src/config/variables.js';

const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

interface Row {
  readonly name: string;
  readonly default: string;
}

/** Code formatting is presentation: `7779` in the README is the table's 7779. */
const plain = (cell: string): string => cell.replace(/`/g, '').trim();

/** The rows of the first table under `## Configuration` whose first cell names a variable. */
function readmeRows(): Row[] {
  const lines = readFileSync(README, 'utf8').split('\n');
  const start = lines.indexOf('## Configuration');
  assert.notEqual(start, -1, 'README.md has no "## Configuration" section');
  const first = lines.findIndex((l, i) => i > start && l.startsWith('|'));
  assert.notEqual(first, -1, 'the Configuration section has no table');
  const table = lines.slice(
    first,
    lines.findIndex((l, i) => i > first && !l.startsWith('|')),
  );
  const header = table[0]?.split('|').map(plain);
  assert.deepEqual(header?.slice(1, 3), ['variable', 'default'], 'the table starts with a variable and a default column');
  return table.slice(2).map((line) => {
    const [, name = '', shownDefault = ''] = line.split('|');
    return { name: plain(name), default: plain(shownDefault) };
  });
}

describe('README configuration table', () => {
  const rows = readmeRows();
  const table = VARIABLE_LIST.map((v) => ({ name: v.name, default: v.default }));

  test('README table: lists exactly the settings table variables, in the same order', () =>
    assert.deepEqual(
      rows.map((r) => r.name),
      table.map((v) => v.name),
    ));

  test('README table: shows the same default for every variable', () => {
    const readmeDefault = new Map(rows.map((r) => [r.name, r.default]));
    for (const v of table) assert.equal(readmeDefault.get(v.name), v.default, `default of ${v.name}`);
  });
});
