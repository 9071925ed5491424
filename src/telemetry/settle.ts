/** Waits for `work`, at most `deadlineMs`; a failure counts as done. No SDK import: the stop path uses it too. */
export async function settleWithin(work: Promise<unknown>, deadlineMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs).unref()))]);
  clearTimeout(timer);
}
