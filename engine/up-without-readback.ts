import type { Stack, UpOptions, UpResult } from '@pulumi/pulumi/automation';

/**
 * `up`, without what Stack.up() does once the update is over: three more CLI processes, each loading the whole
 * state (`stack output` twice, masked and plain, for the outputs, and `stack history` for a summary), 0.6-1.2 s per
 * run in the bench, a fifth to a third of a purchase's wall time. A provisioning run reads each church's line from
 * the engine's events and uses neither; the update itself, its events and its errors are exactly Stack.up()'s.
 *
 * The seam: Stack.up() reads the results through `this.outputs()` and `this.info()` (the public methods of the
 * same object); the returned object answers both without running the CLI. The Automation API has no option for
 * this; test/engine/up-without-readback.engine.test.ts proves on the real CLI that the update happens and that the
 * three read-back processes do not, and fails the day a new @pulumi/pulumi reads its results another way.
 */
export function upWithoutReadback(stack: Stack, options: UpOptions): Promise<UpResult> {
  const withoutReadback = Object.assign(Object.create(stack) as Stack, {
    outputs: async () => ({}),
    info: async () => undefined,
  });
  return withoutReadback.up(options);
}
