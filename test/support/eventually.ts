/**
 * Waiting in tests for something another process does (a call ends, sipp exits, a timed fault lapses). A bound on
 * waiting, never an assertion on how long something took: the assertion that follows checks the condition itself.
 */

/**
 * Polls `check` until it gives a value (anything but undefined or false) and resolves with that value; fails
 * naming `what` if it still has not after `boundMs`.
 */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string | (() => string),
  boundMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(`still not true after waiting ${boundMs} ms: ${typeof what === 'function' ? what() : what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
