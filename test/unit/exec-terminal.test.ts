/** src/exec/terminal.ts: reading the foreground process group from /proc/<pid>/stat. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { inTerminalForeground } from '../../src/exec/terminal.js';
import { TempDirs } from '../kit/index.js';

const dirs = new TempDirs('clef-exec-terminal-unit-');
after(() => dirs.removeAll());

function statFile(name: string, pgrp: number, tpgid: number): string {
  const path = join(dirs.make(), 'stat');
  // pid (comm) state ppid pgrp session tty_nr tpgid flags …
  writeFileSync(path, `4242 (${name}) S 1 ${pgrp} ${pgrp} 34816 ${tpgid} 4194560 1234 0 0 0\n`);
  return path;
}

describe('inTerminalForeground', () => {
  it('true when the process group is the terminal’s foreground group', () => {
    assert.equal(inTerminalForeground(statFile('node', 4242, 4242)), true);
  });

  it('false in a background group, and without a controlling terminal (tpgid -1)', () => {
    assert.equal(inTerminalForeground(statFile('node', 4242, 5000)), false);
    assert.equal(inTerminalForeground(statFile('node', 4242, -1)), false);
  });

  it('a command name with spaces and parentheses does not shift the fields', () => {
    assert.equal(inTerminalForeground(statFile('a) S 1 7 7 0 7 (b', 4242, 4242)), true);
    assert.equal(inTerminalForeground(statFile('a) S 1 7 7 0 7 (b', 4242, 7)), false);
  });

  it('false when the file cannot be read (no /proc) or is malformed', () => {
    assert.equal(inTerminalForeground(join(dirs.make(), 'missing')), false);
    const bad = join(dirs.make(), 'stat');
    writeFileSync(bad, 'garbage');
    assert.equal(inTerminalForeground(bad), false);
  });
});
