/**
 * The steps of a church's line as stack runs carry them out (number, trunk, dispatch rule, row, test ring), recorded
 * from the engine's events while the run goes on: the pastor's status page shows them as they happen, and the
 * founder sees how long each took.
 */
import type { Queryable } from './db';

export interface LineStep {
  churchId: string;
  runId: string;
  step: string;
  ok: boolean;
  detail?: string;
  at?: Date;
}

export async function recordLineStep(db: Queryable, step: LineStep): Promise<void> {
  await db.query(`insert into line_steps (church_id, run_id, step, ok, detail, at) values ($1, $2, $3, $4, $5, $6)`, [
    step.churchId,
    step.runId,
    step.step,
    step.ok,
    step.detail?.slice(0, 2000) ?? null,
    step.at ?? new Date(),
  ]);
}

/** The steps of the church's newest run, in the order they happened. */
export async function latestRunSteps(db: Queryable, churchId: string): Promise<Required<LineStep>[]> {
  const { rows } = await db.query<{ run_id: string; step: string; ok: boolean; detail: string | null; at: Date }>(
    `select run_id, step, ok, detail, at from line_steps
      where church_id = $1 and run_id = (select run_id from line_steps where church_id = $1 order by at desc, id desc
        limit 1)
      order by at, id`,
    [churchId],
  );
  return rows.map((r) => ({ churchId, runId: r.run_id, step: r.step, ok: r.ok, detail: r.detail ?? '', at: r.at }));
}
