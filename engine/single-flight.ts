/**
 * One engine run at a time per stack, inside this process. Two updates of one stack fail with
 * ConcurrentUpdateError, and workspace writes (createOrSelectStack, setConfig) are not safe in parallel
 * (pulumi/pulumi #8186, #6050), so every operation on a stack, config edits included, goes through its queue.
 */
const tails = new Map<string, Promise<unknown>>();

export function singleFlight<T>(stackKey: string, work: () => Promise<T>): Promise<T> {
  const previous = tails.get(stackKey) ?? Promise.resolve();
  const run = previous.then(work, work);
  const tail = run.catch(() => undefined);
  tails.set(stackKey, tail);
  void tail.then(() => {
    if (tails.get(stackKey) === tail) tails.delete(stackKey);
  });
  return run;
}
