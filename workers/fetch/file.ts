/**
 * File sources. The size cap is enforced twice: on `fstat` (cheap early refusal) and while reading
 * (the file may grow between the two, or be a special file whose size `fstat` cannot tell).
 * There is no change marker for files: identical bytes are detected by the caller's hash.
 */
import { open } from 'node:fs/promises';
import type { FetchPolicy, TaskFailure } from '../../common/protocol.js';
import { taskFailure } from '../../common/task-failure.js';
import { errnoCode } from '../../common/display.js';
import type { FetchOutcome } from './types.js';

export async function fetchFile(path: string, policy: Pick<FetchPolicy, 'maxBytes'>): Promise<FetchOutcome | TaskFailure> {
  const cap = policy.maxBytes;
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    return unreadable(path, err);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) return taskFailure('source_unreadable', `artifact file ${path} cannot be read (EISDIR)`);
    if (st.size > cap) return tooLarge(path, cap);
    // The buffer never exceeds cap + 1 bytes: filling that last byte proves the file is too big.
    let buf = Buffer.alloc(Math.min(cap + 1, Math.max(st.size + 1, 64 * 1024)));
    let total = 0;
    for (;;) {
      if (total === buf.length) {
        if (total > cap) return tooLarge(path, cap);
        const bigger = Buffer.alloc(Math.min(cap + 1, buf.length * 2));
        buf.copy(bigger);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, total, buf.length - total, null);
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    return { kind: 'bytes', bytes: buf.subarray(0, total) };
  } catch (err) {
    return unreadable(path, err);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

function unreadable(path: string, err: unknown): TaskFailure {
  return taskFailure('source_unreadable', `artifact file ${path} cannot be read (${errnoCode(err) ?? 'error'})`);
}

function tooLarge(path: string, maxBytes: number): TaskFailure {
  return taskFailure('too_large', `artifact file ${path} is larger than the ${maxBytes}-byte cap`);
}
