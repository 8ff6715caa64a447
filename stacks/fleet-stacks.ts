/**
 * The fleet's stacks (the base stack and its shard stacks, common/fleet-shards.ts) and one way to go across them:
 * bounded parallelism, a progress line per stack as it finishes, every stack's outcome kept (one stack's failure
 * never hides the others').
 */
import type { Queryable } from '../registry/db';
import { shardsInUse } from '../registry/fleet-layout';
import { shardOfStack, stackOfShard } from '../common/fleet-shards';
import { openVoiceStack, type VoiceStackOptions } from '../engine/voice-stack';
import { backendStacks } from './live-systems';

export interface FleetStack {
  name: string;
  /** null: the base stack. */
  shard: number | null;
  /** Churches the registry puts in this stack (decommissioned ones included). */
  churches: number;
  /** False: the registry gave churches this shard, and its first run has not created the stack yet. */
  inBackend: boolean;
}

/**
 * Every stack of the fleet of `base.stackName`: the base stack, each shard the registry uses, and each shard stack
 * the backend holds even if no church is in it any more (it may still hold resources). Ordered base first, then by
 * shard.
 */
export async function fleetStacks(base: VoiceStackOptions, db: Queryable): Promise<FleetStack[]> {
  const inBackend = new Set(await backendStacks(base));
  const byName = new Map<string, FleetStack>();
  const add = (name: string, shard: number | null, churches: number) =>
    byName.set(name, { name, shard, churches, inBackend: inBackend.has(name) });
  add(base.stackName, null, 0);
  for (const use of await shardsInUse(db)) add(stackOfShard(base.stackName, use.shard), use.shard, use.churches);
  for (const name of inBackend) {
    const { base: of, shard } = shardOfStack(name);
    if (of === base.stackName && shard !== null && !byName.has(name)) add(name, shard, 0);
  }
  return [...byName.values()].sort((a, b) => (a.shard ?? -1) - (b.shard ?? -1));
}

export type StackOutcome<T> =
  { stack: FleetStack; ok: true; value: T; ms: number } | { stack: FleetStack; ok: false; error: string; ms: number };

/**
 * Runs `work` on every stack, `parallel` at a time, and reports each as it finishes (`[3/41] prod-shard-002 ...`).
 * Outcomes come back in the stacks' order.
 */
export async function acrossFleet<T>(
  stacks: FleetStack[],
  work: (stack: FleetStack) => Promise<T>,
  options: { parallel: number; progress?: (line: string) => void; describe?: (value: T) => string },
): Promise<Array<StackOutcome<T>>> {
  const outcomes: Array<StackOutcome<T>> = new Array(stacks.length);
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < stacks.length) {
      const index = next++;
      const stack = stacks[index];
      const started = Date.now();
      try {
        const value = await work(stack);
        outcomes[index] = { stack, ok: true, value, ms: Date.now() - started };
      } catch (error) {
        outcomes[index] = { stack, ok: false, error: (error as Error).message, ms: Date.now() - started };
      }
      const outcome = outcomes[index];
      done += 1;
      const what = outcome.ok
        ? (options.describe?.(outcome.value) ?? 'done')
        : `FAILED: ${outcome.error.split('\n')[0]}`;
      options.progress?.(`[${done}/${stacks.length}] ${stack.name}: ${what} (${(outcome.ms / 1000).toFixed(1)} s)`);
    }
  };
  const lanes = Math.max(1, Math.min(options.parallel, stacks.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  return outcomes;
}

/** What a stack's `pulumi preview` plans: the count of changes (anything but `same`) and the engine's summary. */
export interface PlannedChanges {
  changes: number;
  summary: Record<string, number>;
}

export async function previewChanges(options: VoiceStackOptions): Promise<PlannedChanges> {
  const stack = await openVoiceStack(options);
  const result = await stack.preview();
  const summary = (result.changeSummary ?? {}) as Record<string, number>;
  const changes = Object.entries(summary)
    .filter(([op]) => op !== 'same')
    .reduce((sum, [, count]) => sum + count, 0);
  return { changes, summary };
}

/** `create 2, update 1` (or `no changes`), from a preview's summary. */
export function describeChanges(planned: PlannedChanges): string {
  if (planned.changes === 0) return 'no changes';
  return Object.entries(planned.summary)
    .filter(([op, count]) => op !== 'same' && count > 0)
    .map(([op, count]) => `${op} ${count}`)
    .join(', ');
}

/** The stack a church's line is in (its shard's, or the base stack when it has none or is not in the registry). */
export async function stackOfChurch(db: Queryable, baseStack: string, churchId: string): Promise<string> {
  const { rows } = await db.query<{ shard: number | null }>('select shard from churches where church_id = $1', [
    churchId,
  ]);
  return stackOfShard(baseStack, rows[0]?.shard ?? null);
}
