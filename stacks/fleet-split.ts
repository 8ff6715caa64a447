/**
 * Splits a fleet that is one stack into shard stacks without touching a vendor: the churches are given shards in
 * the registry, and their resources are moved from the base stack's state into their shard stack's with
 * `pulumi state move` (the state is rewritten; no provider is called, nothing is created, deleted or ordered).
 *
 * Safe to stop at any point and run again:
 * 1. the registry is marked `migrating` and each church gets its shard, in one transaction; from then on no stack
 *    runs (the worker waits, the program refuses), so nothing is declared in a stack that lacks its resources;
 * 2. each shard's churches are moved, one `pulumi state move` per shard; a church already in its shard is skipped;
 * 3. `migrating` is cleared, and every stack touched is previewed: it must plan no change.
 * The whole of it holds the run locks of the base stack and of every destination shard, so no run of the service
 * happens in between.
 */
import type { Pool, PoolClient } from 'pg';
import { stackOfShard } from '../common/fleet-shards';
import { getFleetLayout, setFleetLayout } from '../registry/fleet-layout';
import { withTransaction } from '../registry/db';
import { listChurches } from '../registry/churches';
import { engineEnvironment } from '../engine/engine-environment';
import { runPulumi } from '../engine/pulumi-cli';
import type { Stack } from '@pulumi/pulumi/automation';
import { openVoiceStack, type VoiceStackOptions } from '../engine/voice-stack';
import { stateResources, type StateResource } from './live-systems';
import { upWithoutReadback } from '../engine/up-without-readback';
import { PROJECT_ROOT } from '../common/project';
import { previewChanges } from './fleet-stacks';
import { CONFIG_NAMESPACE } from '../vendors/vendor-settings';

const LINE_TYPE = 'churchwise:voice:ChurchVoiceLine';

export interface ShardMove {
  shard: number;
  stack: string;
  /** Churches given this shard by the split (whether or not they have resources yet). */
  churches: string[];
  /** Top-level URNs (each church's line; its resources follow as children) still in the base stack. */
  urns: string[];
}

export interface SplitPlan {
  base: string;
  shardSize: number;
  moves: ShardMove[];
  /** Churches left in the base stack: lines in service (shared) and decommissioned churches. */
  staying: string[];
  /** Resources to move, children included. */
  resourcesToMove: number;
}

/** The ids of the lines in service the base stack adopts: they are shared and stay in it. */
async function linesInServiceIds(stack: Stack): Promise<Set<string>> {
  const config = await stack.getAllConfig();
  const raw = config[`${CONFIG_NAMESPACE}:linesInService`]?.value;
  const parsed = raw ? (JSON.parse(raw) as { churches?: Array<{ churchId?: string }> }) : {};
  return new Set((parsed.churches ?? []).map((c) => String(c.churchId ?? '')));
}

const lineUrnName = (churchId: string) => `church-${churchId}`;

/** Everything under `root` (itself included), following `parent`. */
function subtree(resources: StateResource[], root: string): number {
  const children = new Map<string, string[]>();
  for (const r of resources) if (r.parent) children.set(r.parent, [...(children.get(r.parent) ?? []), r.urn]);
  let count = 0;
  const walk = (urn: string) => {
    count += 1;
    for (const child of children.get(urn) ?? []) walk(child);
  };
  walk(root);
  return count;
}

/**
 * What the split would do, from the registry and the base stack's state only (no vendor, no write). Churches that
 * already have a shard keep it; the others fill shards in order (registry/fleet-layout.ts), by church id.
 */
export async function planSplit(pool: Pool, base: VoiceStackOptions, shardSize: number): Promise<SplitPlan> {
  const stack = await openVoiceStack(base);
  const inService = await linesInServiceIds(stack);
  const churches = await listChurches(pool);
  const baseState = await stateResources(stack);
  // Each church's line is one component; its number, trunk, rule, row and ring are its children and move with it.
  const lineUrns = new Map(baseState.filter((r) => r.type === LINE_TYPE).map((r) => [r.urn.split('::').pop()!, r.urn]));
  const counts = new Map<number, number>();
  for (const church of churches)
    if (church.shard !== null && church.status !== 'decommissioned')
      counts.set(church.shard, (counts.get(church.shard) ?? 0) + 1);
  const roomIn = () => {
    for (let shard = 0; ; shard++) if ((counts.get(shard) ?? 0) < shardSize) return shard;
  };
  const moves = new Map<number, ShardMove>();
  const staying: string[] = [];
  let resourcesToMove = 0;
  for (const church of churches) {
    if (inService.has(church.churchId) || (church.shard === null && church.status === 'decommissioned')) {
      staying.push(church.churchId);
      continue;
    }
    const urn = lineUrns.get(lineUrnName(church.churchId));
    // A church given its shard by an earlier, interrupted split keeps it; its line may still be in the base stack.
    if (church.shard !== null && !urn) continue;
    const shard = church.shard ?? roomIn();
    if (church.shard === null) counts.set(shard, (counts.get(shard) ?? 0) + 1);
    const move = moves.get(shard) ?? { shard, stack: stackOfShard(base.stackName, shard), churches: [], urns: [] };
    move.churches.push(church.churchId);
    if (urn) {
      move.urns.push(urn);
      resourcesToMove += subtree(baseState, urn);
    }
    moves.set(shard, move);
  }
  return {
    base: base.stackName,
    shardSize,
    moves: [...moves.values()].sort((a, b) => a.shard - b.shard),
    staying,
    resourcesToMove,
  };
}

export interface SplitResult {
  plan: SplitPlan;
  /** `pulumi state move` runs made (one per shard with something to move). */
  stateMoves: number;
  /** Stacks previewed after the move, with the changes each would make (all must be 0). */
  previews: Array<{ stack: string; changes: number; summary: Record<string, number> }>;
  /** Stacks whose `lines` output was written again after the move (0 when a preview planned a change). */
  outputsWritten: number;
}

async function holdRunLocks(client: PoolClient, stacks: string[]): Promise<void> {
  for (const stack of stacks) {
    const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock(hashtext($1)) as locked', [
      `churchwise-voice:stack-run:${stack}`,
    ]);
    if (!rows[0].locked)
      throw new Error(
        `stack ${stack} is being run by the service right now; nothing was changed. Try again in a minute`,
      );
  }
}

/** Carries out the plan (see the top of this file). `progress` gets a line per step. */
export async function splitFleet(
  pool: Pool,
  base: VoiceStackOptions,
  shardSize: number,
  progress: (line: string) => void = () => {},
): Promise<SplitResult> {
  const lockClient = await pool.connect();
  try {
    const plan = await planSplit(pool, base, shardSize);
    await holdRunLocks(lockClient, [base.stackName, ...plan.moves.map((m) => m.stack)]);
    await withTransaction(pool, async (tx) => {
      await setFleetLayout(tx, { shardSize, migrating: true });
      for (const move of plan.moves)
        await tx.query('update churches set shard = $2 where church_id = any($1::text[]) and shard is null', [
          move.churches,
          move.shard,
        ]);
    });
    progress(
      `registry: ${plan.moves.reduce((n, m) => n + m.churches.length, 0)} church(es) given a shard of at most ` +
        `${shardSize}; no stack runs until the move is done`,
    );
    const workDir = base.workDir ?? PROJECT_ROOT;
    const env = { ...(process.env as Record<string, string>), ...engineEnvironment(base) };
    let stateMoves = 0;
    for (const move of plan.moves) {
      const options = { ...base, stackName: move.stack };
      await openVoiceStack(options); // creates the shard stack (and writes its settings) on first use
      if (move.urns.length === 0) continue;
      const moved = await runPulumi(
        ['state', 'move', '--source', base.stackName, '--dest', move.stack, '--yes', ...move.urns],
        { cwd: workDir, env, timeoutMs: 30 * 60_000 },
      );
      if (moved.code !== 0)
        throw new Error(
          `pulumi state move into ${move.stack} failed (the split stays marked in progress; run the command ` +
            `again to finish it): ${(moved.stderr || moved.stdout).trim()}`,
        );
      stateMoves += 1;
      progress(`${move.stack}: ${move.urns.length} line(s) moved from ${base.stackName}`);
    }
    await setFleetLayout(pool, { shardSize, migrating: false });
    progress('registry: split finished; stacks run again');
    const touched = [base.stackName, ...plan.moves.map((m) => m.stack)];
    const previews: SplitResult['previews'] = [];
    for (const stackName of touched) {
      const preview = await previewChanges({ ...base, stackName });
      previews.push({ stack: stackName, ...preview });
      progress(`${stackName}: preview plans ${preview.changes === 0 ? 'no changes' : `${preview.changes} change(s)`}`);
    }
    // A state move rewrites resources, not outputs: each stack's `lines` still says where the churches were. An
    // update that changes nothing (the engine refuses it otherwise: expectNoChanges) writes them again; it calls no
    // vendor (no resource has a step but `same`). Left out, and said so, when a preview planned a change.
    let outputsWritten = 0;
    if (previews.every((p) => p.changes === 0)) {
      for (const stackName of touched) {
        const stack = await openVoiceStack({ ...base, stackName });
        await upWithoutReadback(stack, { expectNoChanges: true, message: `fleet split: ${stackName} outputs` });
        outputsWritten += 1;
      }
      progress(`outputs of ${outputsWritten} stack(s) written by updates that changed nothing`);
    }
    return { plan, stateMoves, previews, outputsWritten };
  } finally {
    // Destroyed, not returned to the pool: that drops every run lock it held at once.
    lockClient.release(true);
  }
}

/** Whether the registry says a split was started and not finished. */
export async function splitInProgress(pool: Pool): Promise<boolean> {
  return (await getFleetLayout(pool)).migrating;
}
