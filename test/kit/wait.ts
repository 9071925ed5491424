/** Waiting in tests: a plain delay, and polling for a server-side effect that has no event to wait on. */

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `check` every `everyMs` (0: on every turn of the event loop, to catch a passing state)
 * until it returns something other than `undefined` or `false`, and resolves with that. Rejects
 * with "`what` not met within … ms" after `timeoutMs`; a `check` that throws ends the wait at once
 * with its error (e.g. "the process exited").
 */
export async function waitUntil<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
  everyMs = 50,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await (everyMs === 0 ? new Promise((resolve) => setImmediate(resolve)) : sleep(everyMs));
  }
}
