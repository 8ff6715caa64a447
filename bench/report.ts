/**
 * What a bench run found, as data (bench/results/latest.json), as the tables printed at the end, and as
 * bench/RESULTS.md (the latest figures the README links to). Every goal sits beside its figure.
 */
import { execFileSync } from 'child_process';
import * as os from 'os';
import { pulumiBinary } from '../engine/engine-environment';
import { renderTable } from '../checks/line-table';
import type { ScaleStep } from './scenario-scale';
import { median, type WebhookScenarioResult } from './scenario-webhook';
import { formatCounts, type VendorCallCounts } from './vendor-calls';
import type { MemoryReport } from './process-memory';
import type { PageTiming } from './scenario-pages';
import type { FleetScenario } from './scenario-fleet';

export const GOALS = {
  webhookRatio: 1.3,
  addOneScale: 2,
  burstRuns: 3,
  /** Drift: vendor calls per extra church; a GET per resource would be 4 (number, trunk, rule, row). */
  driftCallsPerChurch: 1,
  /** The console's fleet page at the large fleet, and the picker, first paint in the browser (ms). */
  pageFirstPaintMs: 1000,
  /** A purchase at N churches in shard stacks, against one at N=1: time and peak memory of the process tree. */
  fleetPurchaseRatio: 1.2,
  fleetPurchaseMemoryRatio: 1.2,
  /** The founder's fleet-wide preview with no changes, and the fleet drift check, at N (seconds). */
  fleetPreviewS: 120,
  fleetDriftS: 30,
  /** A burst of purchases: p95 from queued to row written, against one purchase. */
  fleetBurstP95Ratio: 3,
  /** The whole bench (minutes). */
  benchMinutes: 20,
} as const;

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  /** 1-minute load average when the bench started: other work on the machine skews every figure. */
  loadAtStart: number;
  /** 1-minute load average when it ended. */
  loadAtEnd?: number;
  kernel: string;
  node: string;
  pulumi: string;
}

export interface BenchReport {
  startedAt: string;
  durationMs: number;
  command: string;
  latencyMs: number;
  machine: MachineInfo;
  webhook?: WebhookScenarioResult;
  scale?: ScaleStep[];
  pages?: PageTiming[];
  fleet?: FleetScenario;
  goals: Array<{ goal: string; figure: string; met: boolean }>;
}

export function machineInfo(): MachineInfo {
  let pulumi = 'unknown';
  try {
    pulumi = execFileSync(pulumiBinary(), ['version'], { env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: 'true' } })
      .toString()
      .trim();
  } catch {
    /* reported as unknown */
  }
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAtStart: Math.round(os.loadavg()[0] * 100) / 100,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    pulumi,
  };
}

const s = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(2));
const x = (value: number) => `${value.toFixed(2)}x`;
const verdict = (met: boolean) => (met ? 'met' : 'MISSED');

/** Goals with the figure that decides each; computed once, shown in the tables, the JSON and RESULTS.md. */
export function evaluateGoals(report: Omit<BenchReport, 'goals'>): BenchReport['goals'] {
  const goals: BenchReport['goals'] = [];
  for (const timing of report.pages ?? []) {
    if (timing.page === 'console fleet' && timing.churches === 1) continue;
    goals.push({
      goal: `${timing.page} at ${timing.churches} churches: first paint < ${GOALS.pageFirstPaintMs} ms`,
      figure: `${timing.firstPaintMs.toFixed(0)} ms`,
      met: timing.firstPaintMs < GOALS.pageFirstPaintMs,
    });
  }
  const pairs = [
    { latencyMs: report.latencyMs, runs: report.webhook?.runs ?? [] },
    ...(report.webhook?.slow ? [report.webhook.slow] : []),
  ];
  for (const { latencyMs, runs } of pairs.filter((p) => p.runs.length > 0)) {
    const ratio = median(runs.map((r) => r.ms)) / median(runs.map((r) => r.baseline.ms));
    goals.push({
      goal: `webhook -> live line <= ${GOALS.webhookRatio}x the imperative baseline at ${latencyMs} ms per call`,
      figure: `${x(ratio)} (${s(median(runs.map((r) => r.ms)))} s vs ${s(median(runs.map((r) => r.baseline.ms)))} s)`,
      met: ratio <= GOALS.webhookRatio && runs.every((r) => r.ok),
    });
  }
  const scale = report.scale ?? [];
  if (scale.length > 1) {
    const first = scale[0];
    const last = scale[scale.length - 1];
    const ratio = last.addOne.run.wallMs / first.addOne.run.wallMs;
    goals.push({
      goal: `add one church: time(N=${last.n}) <= ${GOALS.addOneScale}x time(N=${first.n})`,
      figure: x(ratio),
      met: ratio <= GOALS.addOneScale,
    });
    // A no-op up is the run for unchanged churches: any vendor call in it is one.
    const unchangedCalls = scale.map((step) => step.noop.calls.total);
    goals.push({
      goal: 'zero vendor calls for unchanged churches (no-op up)',
      figure:
        `${unchangedCalls.join('/')} calls at N=${scale.map((step) => step.n).join('/')}; ` +
        `adding one: ${scale.map((step) => step.addOne.calls.total).join('/')} (the new church's own)`,
      met: unchangedCalls.every((c) => c === 0),
    });
    const perChurch = (last.drift.calls.total - first.drift.calls.total) / (last.n - first.n);
    goals.push({
      goal: `drift check: vendor calls grow sublinearly (< ${GOALS.driftCallsPerChurch} call per extra church)`,
      figure: `${perChurch.toFixed(2)} calls/church`,
      met: perChurch < GOALS.driftCallsPerChurch,
    });
  }
  const fleet = report.fleet;
  if (fleet) {
    const timeRatio = fleet.purchaseAtN.run.wallMs / fleet.purchaseAtOne.run.wallMs;
    goals.push({
      goal:
        `purchase at N=${fleet.churches} (shard of ${fleet.purchaseAtN.othersInShard + 1}) ` +
        `<= ${GOALS.fleetPurchaseRatio}x N=1`,
      figure: x(timeRatio),
      met: timeRatio <= GOALS.fleetPurchaseRatio,
    });
    const memoryRatio = fleet.purchaseAtN.memory.treePeakMiB / fleet.purchaseAtOne.memory.treePeakMiB;
    goals.push({
      goal: `peak memory of that purchase <= ${GOALS.fleetPurchaseMemoryRatio}x N=1 (whole process tree)`,
      figure: `${x(memoryRatio)} (${fleet.purchaseAtN.memory.treePeakMiB.toFixed(0)} MiB)`,
      met: memoryRatio <= GOALS.fleetPurchaseMemoryRatio,
    });
    goals.push({
      goal: `fleet preview at N=${fleet.churches}, no changes: <= ${GOALS.fleetPreviewS} s`,
      figure: `${s(fleet.preview.wallMs)} s, ${fleet.preview.changes} changes, ${fleet.preview.stacks} stacks`,
      met: fleet.preview.wallMs <= GOALS.fleetPreviewS * 1000 && fleet.preview.changes === 0 && !fleet.preview.failed,
    });
    goals.push({
      goal: `fleet drift check at N=${fleet.churches}: <= ${GOALS.fleetDriftS} s, vendor calls sublinear`,
      figure:
        `${s(fleet.drift.wallMs)} s, ${fleet.drift.calls.total} calls ` +
        `(${(fleet.drift.calls.total / fleet.churches).toFixed(2)}/church)`,
      met: fleet.drift.wallMs <= GOALS.fleetDriftS * 1000 && fleet.drift.calls.total < fleet.churches,
    });
    if (fleet.burst) {
      const ratio = fleet.burst.p95Ms / fleet.purchaseAtOne.run.wallMs;
      goals.push({
        goal:
          `burst of ${fleet.burst.purchases} purchases in ${s(fleet.burst.queuedWithinMs)} s: ` +
          `p95 to row written <= ${GOALS.fleetBurstP95Ratio}x one purchase`,
        figure:
          `${x(ratio)} (p95 ${s(fleet.burst.p95Ms)} s, ` +
          `${fleet.burst.liveMs.length}/${fleet.burst.purchases} live)`,
        met: ratio <= GOALS.fleetBurstP95Ratio && fleet.burst.liveMs.length === fleet.burst.purchases,
      });
    }
  }
  if (report.durationMs > 0)
    goals.push({
      goal: `the whole bench <= ${GOALS.benchMinutes} min on ${report.machine.cpus} cores`,
      figure: `${(report.durationMs / 60_000).toFixed(1)} min`,
      met: report.durationMs <= GOALS.benchMinutes * 60_000,
    });
  const burst = report.webhook?.burst;
  if (burst) {
    goals.push({
      goal: `burst of ${burst.purchases} purchases: <= ${GOALS.burstRuns} engine runs`,
      figure: `${burst.engineRuns} run${burst.engineRuns === 1 ? '' : 's'}, ${burst.succeeded}/${burst.purchases} live`,
      met: burst.engineRuns <= GOALS.burstRuns && burst.succeeded === burst.purchases,
    });
  }
  return goals;
}

interface Table {
  title: string;
  headers: string[];
  rows: string[][];
  notes?: string[];
}

/** Scenario 1's pairs at the slower latency, as two more rows of its table. */
function slowRows(slow: NonNullable<WebhookScenarioResult['slow']>): string[][] {
  const engine = slow.runs.map((r) => r.ms);
  const base = slow.runs.map((r) => r.baseline.ms);
  const ratio = median(engine) / median(base);
  const last = slow.runs[slow.runs.length - 1];
  return [
    [
      `webhook + engine at ${slow.latencyMs} ms`,
      s(median(engine)),
      s(Math.min(...engine)),
      s(Math.max(...engine)),
      callCell(last.calls),
      x(ratio),
      `<= ${GOALS.webhookRatio}x ${verdict(ratio <= GOALS.webhookRatio)}`,
    ],
    [
      `imperative baseline at ${slow.latencyMs} ms`,
      s(median(base)),
      s(Math.min(...base)),
      s(Math.max(...base)),
      callCell(last.baseline.calls),
      '1.00x',
      '',
    ],
  ];
}

function callCell(calls: VendorCallCounts): string {
  return `${calls.total} (${formatCounts(calls)})`;
}

function memoryRows(label: string, memory: MemoryReport): string[][] {
  const kind = (k: keyof MemoryReport['byKind']) => (memory.byKind[k] ? `${memory.byKind[k]!.peakMiB}` : '-');
  return [
    [
      label,
      `${memory.hostPeakMiB}`,
      kind('engine'),
      kind('providers'),
      `${memory.treePeakMiB}`,
      memory.cpuSeconds.toFixed(1),
    ],
  ];
}

export function reportTables(report: BenchReport): Table[] {
  const tables: Table[] = [];
  const fleet = report.fleet;
  if (fleet) {
    const one = fleet.purchaseAtOne;
    const atN = fleet.purchaseAtN;
    tables.push({
      title:
        `6. The fleet in shard stacks: ${fleet.churches} churches, shards of ${fleet.shardSize}, ` +
        `${fleet.parallel} stacks at a time`,
      headers: ['measurement', 'wall s', 'engine s', 'peak tree MiB', 'CPU s', 'vendor calls', 'vs N=1'],
      rows: [
        [
          'purchase at N=1 (shard of 1)',
          s(one.run.wallMs),
          s(one.run.engineMs),
          one.memory.treePeakMiB.toFixed(0),
          one.memory.cpuSeconds.toFixed(1),
          callCell(one.calls),
          '1.00x',
        ],
        [
          `purchase at N=${fleet.churches} (shard of ${atN.othersInShard + 1})`,
          s(atN.run.wallMs),
          s(atN.run.engineMs),
          atN.memory.treePeakMiB.toFixed(0),
          atN.memory.cpuSeconds.toFixed(1),
          callCell(atN.calls),
          x(atN.run.wallMs / one.run.wallMs),
        ],
        [`fleet preview (${fleet.preview.stacks} stacks)`, s(fleet.preview.wallMs), '-', '-', '-', '0', '-'],
        [
          `fleet drift (${fleet.drift.stacks} stacks)`,
          s(fleet.drift.wallMs),
          '-',
          '-',
          '-',
          callCell(fleet.drift.calls),
          '-',
        ],
        ...(fleet.burst
          ? [
              [
                `burst of ${fleet.burst.purchases} (p50 / p95 to row written)`,
                `${s(fleet.burst.p50Ms)} / ${s(fleet.burst.p95Ms)}`,
                '-',
                '-',
                '-',
                '-',
                x(fleet.burst.p95Ms / one.run.wallMs),
              ],
            ]
          : []),
      ],
      notes: [
        `Built once per bench run through the real engine (${s(fleet.buildMs)} s, not measured): ` +
          'N-1 churches added to ' +
          'the registry (each given its shard as a purchase is), then every shard stack brought up, ' +
          `${fleet.parallel} at a time, latency 0, checkpoint written once per update; the measurements reuse it.`,
        "A purchase is a targeted `up` of its shard stack (the worker's run); the last church goes into the newest " +
          'shard, which then holds the most churches a shard will (the worst case of filling shards in order).',
        ...(fleet.burst
          ? [
              `burst: ${fleet.burst.runs} stack run(s) carried the ${fleet.burst.purchases} purchases; ` +
                'test rings off (scenario 3 rings under the call limit).',
            ]
          : []),
      ],
    });
  }
  if (report.pages?.length) {
    const baseline = report.pages.find((p) => p.page === 'console fleet' && p.churches === 1);
    tables.push({
      title: '5. Web pages in Chromium (medians of fresh page loads)',
      headers: ['page', 'churches', 'server answered ms', 'first paint ms', 'HTML KB', 'first paint vs 1 church'],
      rows: report.pages.map((p) => [
        p.page,
        `${p.churches}`,
        p.responseEndMs.toFixed(0),
        p.firstPaintMs.toFixed(0),
        (p.bytes / 1024).toFixed(0),
        p.page === 'console fleet' && baseline ? x(p.firstPaintMs / baseline.firstPaintMs) : '-',
      ]),
      notes: ['The registry is filled with SQL; these pages read only the registry (no engine, no vendor call).'],
    });
  }
  const webhook = report.webhook;
  if (webhook?.runs.length) {
    const engine = webhook.runs.map((r) => r.ms);
    const base = webhook.runs.map((r) => r.baseline.ms);
    const ratio = median(engine) / median(base);
    tables.push({
      title: `1. Paid webhook -> line live (ring passed), ${webhook.runs.length} runs each, alternating`,
      headers: ['path', 'median s', 'min s', 'max s', 'vendor calls (last run)', 'ratio', 'goal'],
      rows: [
        [
          'webhook + engine',
          s(median(engine)),
          s(Math.min(...engine)),
          s(Math.max(...engine)),
          callCell(webhook.runs[webhook.runs.length - 1].calls),
          x(ratio),
          `<= ${GOALS.webhookRatio}x ${verdict(ratio <= GOALS.webhookRatio)}`,
        ],
        [
          'imperative baseline',
          s(median(base)),
          s(Math.min(...base)),
          s(Math.max(...base)),
          callCell(webhook.runs[webhook.runs.length - 1].baseline.calls),
          '1.00x',
          '',
        ],
        ...(webhook.slow?.runs.length ? slowRows(webhook.slow) : []),
      ],
      notes: [
        ...webhook.runs
          .filter((r) => r.timeline)
          .map((r, i) => {
            const t = r.timeline!;
            const done = Object.entries(t.resourceDoneMs)
              .map(([k, v]) => `${k} ${s(v)}`)
              .join(', ');
            return (
              `webhook run ${i + 1} (s): queued ${s(t.queuedMs)}, run ${s(t.runMs)} [first engine ` +
              `output ${s(t.engineStartMs)}; done: ${done}], settle ${s(t.settleMs)}`
            );
          }),
        `baseline steps (last run, s): ${Object.entries(webhook.runs[webhook.runs.length - 1].baseline.stepsMs)
          .map(([k, v]) => `${k} ${s(v)}`)
          .join(', ')}`,
        `failed webhook runs: ${webhook.runs.filter((r) => !r.ok).length}`,
        ...webhook.runs
          .filter((r) => Object.keys(r.calls.failed).length)
          .map(
            (r) =>
              `failed vendor calls in ${r.churchId}'s run: ${Object.entries(r.calls.failed)
                .map(([k, v]) => `${k} x${v}`)
                .join(', ')}`,
          ),
      ],
    });
  }
  const scale = report.scale ?? [];
  if (scale.length) {
    const base = scale[0].addOne.run.wallMs;
    tables.push({
      title: '2. Adding one church to a stack of N churches (the run a purchase triggers; test rings off)',
      headers: [
        'N',
        'wall s',
        'engine s',
        'start-up s',
        'finish s',
        'new line s',
        'CPU s',
        'vendor calls',
        'calls in no-op up',
        'vs N=' + scale[0].n,
        'goal',
      ],
      rows: scale.map((step) => {
        const run = step.addOne.run;
        const ratio = run.wallMs / base;
        return [
          String(step.n),
          s(run.wallMs),
          s(run.engineMs),
          s(run.startupMs),
          s(run.finishMs),
          s(run.watchedMs),
          step.addOne.memory.cpuSeconds.toFixed(2),
          callCell(step.addOne.calls),
          String(step.noop.calls.total),
          x(ratio),
          step === scale[0] ? '' : `<= ${GOALS.addOneScale}x ${verdict(ratio <= GOALS.addOneScale)}`,
        ];
      }),
      notes: [
        'wall = open stack + recover + up (what the webhook worker runs); engine = prelude -> summary events; ' +
          'start-up = CLI start -> prelude;',
        "finish = summary -> up returns (last checkpoint, CLI exit); new line = the new church's " +
          'steps, first start -> last end;',
        'CPU s = CPU time of the whole run (host, CLI, provider process): unlike wall time it does not grow ' +
          'when other work shares the machine.',
        ...scale.map(
          (step) =>
            `N=${step.n}: no-op up ${s(step.noop.run.wallMs)} s ` +
            `(engine ${s(step.noop.run.engineMs)} s, CPU ${step.noop.memory.cpuSeconds.toFixed(2)} ` +
            `s, ${step.noop.run.resourceCount} resources); ` +
            `add one: first dynamic step ${s(step.addOne.run.firstStepMs)} s after the first step`,
        ),
        ...scale
          .filter((step) => Object.keys(step.addOne.calls.failed).length)
          .map(
            (step) =>
              `N=${step.n}: failed calls while adding one: ${Object.entries(step.addOne.calls.failed)
                .map(([k, v]) => `${k} x${v}`)
                .join(', ')}`,
          ),
        ...scale
          .filter((step) => step.addOneSkipCheckpoints)
          .map(
            (step) =>
              `N=${step.n}: add one with PULUMI_SKIP_CHECKPOINTS=true: ` +
              `wall ${s(step.addOneSkipCheckpoints!.run.wallMs)} s, ` +
              `engine ${s(step.addOneSkipCheckpoints!.run.engineMs)} s, ` +
              `finish ${s(step.addOneSkipCheckpoints!.run.finishMs)} s`,
          ),
        ...scale
          .filter((step) => step.noopPlainStackTraces)
          .map(
            (step) =>
              `N=${step.n}: no-op up with V8's own stack formatting in the host (no ts-node source maps): ` +
              `wall ${s(step.noopPlainStackTraces!.run.wallMs)} s, ` +
              `host CPU ${step.noopPlainStackTraces!.memory.cpuByKind.host ?? '-'} s ` +
              `(with source maps: ${step.noop.memory.cpuByKind.host ?? '-'} s)`,
          ),
      ],
    });
  }
  const burst = webhook?.burst;
  if (burst) {
    tables.push({
      title: '3. Burst of purchases through the webhook (test rings on)',
      headers: [
        'purchases',
        'sent within s',
        'engine runs',
        'first live s',
        'median live s',
        'all live s',
        'live',
        'goal',
      ],
      rows: [
        [
          String(burst.purchases),
          s(burst.spreadMs),
          String(burst.engineRuns),
          s(burst.perChurchMs[0]),
          s(median(burst.perChurchMs)),
          s(burst.allLiveMs),
          `${burst.succeeded}/${burst.purchases}`,
          `<= ${GOALS.burstRuns} runs ${verdict(burst.engineRuns <= GOALS.burstRuns)}`,
        ],
      ],
      notes: [
        `the burst's jobs were settled by ${burst.settlingRuns} run(s); vendor calls: ${callCell(burst.calls)}`,
        ...burst.failed.map((f) => `not live: ${f.churchId} at ${f.failedStep}: ${(f.error ?? '').slice(0, 200)}`),
      ],
    });
  }
  if (scale.length) {
    const first = scale[0];
    tables.push({
      title: '4. Drift check (checks/drift.ts as `npm run drift`: preview --refresh, then unmanaged objects)',
      headers: ['N', 'wall s', 'vendor calls', 'calls per church', 'goal'],
      rows: scale.map((step) => {
        const perExtra =
          step === first ? undefined : (step.drift.calls.total - first.drift.calls.total) / (step.n - first.n);
        return [
          String(step.n),
          s(step.drift.run.wallMs),
          callCell(step.drift.calls),
          (step.drift.calls.total / step.n).toFixed(2),
          perExtra === undefined
            ? ''
            : `< ${GOALS.driftCallsPerChurch}/extra ` +
              `church: ${perExtra.toFixed(2)} ${verdict(perExtra < GOALS.driftCallsPerChurch)}`,
        ];
      }),
      notes: [
        ...scale
          .filter((step) => step.drift.run.drift)
          .map((step) => `N=${step.n}: the report found drift on a stack nobody edited (check the bench)`),
        `calls by operation at N=${scale[scale.length - 1].n}: ${Object.entries(
          scale[scale.length - 1].drift.calls.byOperation,
        )
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
      ],
    });
  }
  const memory: string[][] = [];
  if (webhook) memory.push(...memoryRows('webhook service (whole bench life, burst included)', webhook.serviceMemory));
  const largest = scale[scale.length - 1];
  if (largest) {
    memory.push(...memoryRows(`engine run: add one church at N=${largest.n}`, largest.addOne.memory));
    memory.push(...memoryRows(`engine run: drift check at N=${largest.n}`, largest.drift.memory));
  }
  if (memory.length) {
    tables.push({
      title: '5. Peak memory (MiB, VmHWM sampled every 100 ms from /proc)',
      headers: ['process tree', 'host process', 'pulumi CLI', 'provider process', 'whole tree', 'CPU s'],
      rows: memory,
      notes: [
        'host = the Node process running the inline program (the webhook service itself, or the engine-run host).',
      ],
    });
  }
  return tables;
}

function machineLine(machine: MachineInfo): string {
  const load =
    `load ${machine.loadAtStart} at start` +
    `${machine.loadAtEnd === undefined ? '' : `, ${machine.loadAtEnd} at end`}`;
  return (
    `${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB RAM, ${load}; ${machine.kernel}; ` +
    `Node ${machine.node}; pulumi ${machine.pulumi}`
  );
}

export function renderText(report: BenchReport): string {
  const out: string[] = [
    `Bench ${report.startedAt} (${s(report.durationMs)} s), injected latency ${report.latencyMs} ms per vendor ` +
      `call; vendor calls: T = Telnyx, L = LiveKit, S = Supabase`,
    `Machine: ${machineLine(report.machine)}`,
    '',
  ];
  for (const table of reportTables(report)) {
    out.push(table.title, renderTable(table.headers, table.rows), ...(table.notes ?? []).map((n) => `  ${n}`), '');
  }
  out.push(
    'Goals:',
    renderTable(
      ['goal', 'figure', ''],
      report.goals.map((g) => [g.goal, g.figure, verdict(g.met)]),
    ),
  );
  return out.join('\n');
}

const cell = (text: string) => text.replace(/\|/g, '\\|');

export function renderMarkdown(report: BenchReport): string {
  const out: string[] = [
    '# Benchmark results',
    '',
    `Written by \`${report.command}\` on ${report.startedAt}; the run took ${s(report.durationMs)} s.`,
    `Injected latency: ${report.latencyMs} ms per vendor call ` +
      `(Telnyx via the stand-in, LiveKit and Supabase via bench/delaying-proxy.ts).`,
    'Vendor calls are counted per vendor: T = Telnyx, L = LiveKit, S = Supabase.',
    '',
    `Machine: ${machineLine(report.machine)}.`,
    '',
    '## Goals',
    '',
    '| goal | figure | |',
    '|---|---|---|',
    ...report.goals.map((g) => `| ${cell(g.goal)} | ${cell(g.figure)} | ${verdict(g.met)} |`),
    '',
  ];
  for (const table of reportTables(report)) {
    out.push(
      `## ${table.title}`,
      '',
      `| ${table.headers.map(cell).join(' | ')} |`,
      `|${table.headers.map(() => '---').join('|')}|`,
    );
    out.push(...table.rows.map((row) => `| ${row.map(cell).join(' | ')} |`), '');
    if (table.notes?.length) out.push(...table.notes.map((n) => `- ${n}`), '');
  }
  out.push('Raw figures of this run: `bench/results/latest.json` (not committed).', '');
  return out.join('\n');
}
