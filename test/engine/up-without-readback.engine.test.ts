/**
 * The one place the project leans on the Automation API's insides (engine/up-without-readback.ts): on the real CLI,
 * the update is carried out exactly as by Stack.up(), and the three read-back processes Stack.up() runs after it
 * (`stack output` twice, `stack history`) are not. Counted through the workspace's own PulumiCommand, so a new
 * @pulumi/pulumi that reads its results another way fails here instead of silently paying for them again.
 */
import * as pulumiSdk from '@pulumi/pulumi';
import type { PulumiCommand, Stack } from '@pulumi/pulumi/automation';
import { upWithoutReadback } from '../../engine/up-without-readback';
import { inlineStack } from '../support/engine';

/** The CLI commands (first two words) a stack's workspace runs while `work` runs. */
async function cliCommands(stack: Stack, work: () => Promise<unknown>): Promise<string[]> {
  const command = stack.workspace.pulumiCommand as PulumiCommand & { run: (...args: unknown[]) => Promise<unknown> };
  const run = command.run.bind(command);
  const seen: string[] = [];
  command.run = (args: unknown, ...rest: unknown[]) => {
    seen.push(
      (args as string[])
        .filter((a) => !a.startsWith('-'))
        .slice(0, 2)
        .join(' ')
        .replace(/ auto\.inline$/, ''),
    );
    return run(args, ...rest);
  };
  try {
    await work();
  } finally {
    command.run = run;
  }
  return seen;
}

test('updates like Stack.up(), without the three CLI processes that read the results back', async () => {
  let greeting = 'hello';
  const { stack } = await inlineStack({
    name: 'up-without-readback',
    projectName: 'up-without-readback',
    program: async () => ({ greeting: pulumiSdk.output(greeting) }),
  });

  const plain = await cliCommands(stack, () => stack.up());
  expect(plain.filter((c) => c.startsWith('stack '))).toEqual(['stack output', 'stack output', 'stack history']);

  greeting = 'hello again';
  const events: string[] = [];
  let result: Awaited<ReturnType<typeof upWithoutReadback>> | undefined;
  const lean = await cliCommands(stack, async () => {
    result = await upWithoutReadback(stack, { onEvent: (e) => e.summaryEvent && events.push('summary') });
  });
  expect(lean.filter((c) => c.startsWith('stack '))).toEqual([]);
  expect(lean).toContain('up');
  // The update happened: the engine's own summary event, and the new output in the stack.
  expect(events).toEqual(['summary']);
  expect(result?.outputs).toEqual({});
  expect((await stack.outputs()).greeting.value).toBe('hello again');
}, 180_000);
