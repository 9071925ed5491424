/** Temporary directories under os.tmpdir(), always removed by the test or suite that made them. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** A set of fresh directories removed together by `removeAll()`. */
export class TempDirs {
  private readonly made: string[] = [];

  constructor(private readonly prefix = 'clef-test-') {}

  /** A fresh, empty directory. */
  make(): string {
    const dir = mkdtempSync(join(tmpdir(), this.prefix));
    this.made.push(dir);
    return dir;
  }

  removeAll(): void {
    for (const dir of this.made.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Directories for the current suite, removed after it: call in a `describe` body or at the top
 * level of a test file (node:test registers the `after` hook where it is called, so not inside a
 * hook or a test: use `tempDir(t)` there).
 */
export function suiteTempDirs(prefix?: string): TempDirs {
  const dirs = new TempDirs(prefix);
  after(() => dirs.removeAll());
  return dirs;
}

/** One fresh directory, removed when the test `t` ends. */
export function tempDir(t: { after(fn: () => void): void }, prefix?: string): string {
  const dirs = new TempDirs(prefix);
  t.after(() => dirs.removeAll());
  return dirs.make();
}
