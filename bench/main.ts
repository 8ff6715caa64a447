/**
 * `npm run bench` (or `./dev bench`): how fast a payment becomes a live line, and how the stack scales, on the
 * local sandbox with the real engine and an injected latency on every vendor call. Prints the tables, writes
 * bench/results/latest.json and bench/RESULTS.md. Never run as a test: figures are reported, not asserted.
 *
 *   npm run bench -- [--latency-ms 50] [--sizes 1,50,200] [--burst 50] [--repeats 3] [--only webhook,scale]
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { parse } from 'yaml';
import { LIVEKIT_INBOUND_CONNECTION } from '../sandbox/telnyx/standin';
import { REPO_ROOT } from '../sandbox/processes';
import { startSandbox } from '../sandbox/sandbox';
import { DEFAULT_AGENT_NAME } from '../providers/livekit-sip-dispatch-rule';
import { openBenchStack } from './bench-stack';
import { evaluateGoals, machineInfo, renderMarkdown, renderText, type BenchReport } from './report';
import { runScaleScenario } from './scenario-scale';
import { runWebhookScenario } from './scenario-webhook';
import { runPagesScenario } from './scenario-pages';
import { runFleetScenario } from './scenario-fleet';

const USAGE = `usage: npm run bench -- [options]
  --latency-ms <ms>   injected latency per vendor call (default 50)
  --slow-latency-ms <ms>  scenario 1's pairs again at this latency (default 200; 0 skips)
  --sizes <list>      stack sizes N for "add one church" and the drift check (default 1,50,200)
  --burst <n>         purchases in the burst, sent within a second (default 50; 0 skips it)
  --repeats <n>       webhook and baseline runs each, alternating (default 3)
  --only <list>       webhook (scenarios 1, 3, service memory), scale (2, 4, engine memory), pages (5: the
                      console at --fleet churches, the picker's first paint) and/or fleet (6: --fleet churches in
                      shard stacks); default all four
  --fleet <n>         churches of the fleet (scenario 6) and of the console's fleet page (default 2000)
  --shard-size <n>    churches per shard stack in scenario 6 (default 100)
  --fleet-burst <n>   purchases in scenario 6's burst, queued within 2 s (default 200; 0 skips it)
  --parallel <n>      stacks run at a time in scenario 6 (default 2, one per core here)
  --out <file>        JSON results (default bench/results/latest.json)
  --no-results-md     do not rewrite bench/RESULTS.md`;

function positive(name: string, raw: string, allowZero = false): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1))
    throw new Error(
      `--${name} must be a whole number${allowZero ? '' : ' above 0'}, got ${JSON.stringify(raw)}\n${USAGE}`,
    );
  return value;
}

function options() {
  const { values } = parseArgs({
    options: {
      'latency-ms': { type: 'string', default: '50' },
      'slow-latency-ms': { type: 'string', default: '200' },
      sizes: { type: 'string', default: '1,50,200' },
      burst: { type: 'string', default: '50' },
      repeats: { type: 'string', default: '3' },
      only: { type: 'string', default: 'webhook,scale,pages,fleet' },
      fleet: { type: 'string', default: '2000' },
      'shard-size': { type: 'string', default: '100' },
      'fleet-burst': { type: 'string', default: '200' },
      parallel: { type: 'string', default: '2' },
      out: { type: 'string', default: path.join(REPO_ROOT, 'bench', 'results', 'latest.json') },
      'no-results-md': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const sizes = values.sizes.split(',').map((n) => positive('sizes', n.trim()));
  const only = new Set(values.only.split(',').map((s) => s.trim()));
  for (const part of only)
    if (!['webhook', 'scale', 'pages', 'fleet'].includes(part))
      throw new Error(`--only takes webhook, scale, pages and/or fleet, got ${JSON.stringify(part)}\n${USAGE}`);
  return {
    latencyMs: positive('latency-ms', values['latency-ms'], true),
    slowLatencyMs: positive('slow-latency-ms', values['slow-latency-ms'], true),
    sizes: [...new Set(sizes)].sort((a, b) => a - b),
    burst: positive('burst', values.burst, true),
    repeats: positive('repeats', values.repeats),
    fleet: positive('fleet', values.fleet),
    shardSize: positive('shard-size', values['shard-size']),
    fleetBurst: positive('fleet-burst', values['fleet-burst'], true),
    parallel: positive('parallel', values.parallel),
    only,
    out: path.resolve(values.out),
    resultsMd: !values['no-results-md'],
  };
}

/** The dev stack's ring-from number and connection: the baseline rings exactly as the providers do. */
function devStackSettings(): { ringFrom: string; connectionId: string } {
  const config = (parse(fs.readFileSync(path.join(REPO_ROOT, 'Pulumi.dev.yaml'), 'utf8'))?.config ?? {}) as Record<
    string,
    string
  >;
  return {
    ringFrom: config['churchwise-voice:ringFromNumber'] ?? '+14697288326',
    connectionId: config['churchwise-voice:telnyxConnectionId'] ?? LIVEKIT_INBOUND_CONNECTION.id,
  };
}

async function main(): Promise<void> {
  const opts = options();
  const say = (line: string) => console.log(`[bench] ${line}`);
  const started = Date.now();
  const machine = machineInfo();
  say(
    `machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, load ${machine.loadAtStart}; ` +
      `latency ${opts.latencyMs} ms per vendor call`,
  );
  say('sandbox: starting what is not running');
  await startSandbox((line) => say(`  ${line}`));
  const report: Omit<BenchReport, 'goals'> = {
    startedAt: new Date(started).toISOString(),
    durationMs: 0,
    command: process.argv.length > 2 ? `npm run bench -- ${process.argv.slice(2).join(' ')}` : 'npm run bench',
    latencyMs: opts.latencyMs,
    machine,
  };

  if (opts.only.has('webhook')) {
    say(`1/3 paid webhook -> live line (${opts.repeats} runs, baseline alternating) and a burst of ${opts.burst}`);
    const stack = await openBenchStack('bench-webhook', { testRings: true, latencyMs: 0 });
    try {
      report.webhook = await runWebhookScenario(
        stack,
        {
          ...devStackSettings(),
          agentName: DEFAULT_AGENT_NAME,
          repeats: opts.repeats,
          burst: opts.burst,
          latencyMs: opts.latencyMs,
          slowLatencyMs: opts.slowLatencyMs || undefined,
        },
        say,
      );
    } finally {
      await stack.close();
    }
  }
  if (opts.only.has('scale')) {
    say(`2/3 one stack at N = ${opts.sizes.join(', ')}: no-op up, drift check, add one church`);
    const stack = await openBenchStack('bench-scale', { testRings: false, latencyMs: 0 });
    try {
      report.scale = await runScaleScenario(stack, opts.sizes, opts.latencyMs, say);
    } finally {
      await stack.close();
    }
  }

  if (opts.only.has('pages')) {
    say(`5 web pages in Chromium: the console's fleet at 1 and ${opts.fleet} churches, the picker's first paint`);
    report.pages = await runPagesScenario([1, opts.fleet], Math.max(3, opts.repeats), say);
  }

  if (opts.only.has('fleet')) {
    say(`6 the fleet at ${opts.fleet} churches in shards of ${opts.shardSize}: purchases, preview, drift, burst`);
    const stack = await openBenchStack('bench-fleet', { testRings: false, latencyMs: 0, churchPrefix: 'fleet' });
    try {
      report.fleet = await runFleetScenario(
        stack,
        {
          churches: opts.fleet,
          shardSize: opts.shardSize,
          parallel: opts.parallel,
          burst: opts.fleetBurst,
          latencyMs: opts.latencyMs,
        },
        say,
      );
    } finally {
      await stack.close();
    }
  }

  report.durationMs = Date.now() - started;
  report.machine.loadAtEnd = Math.round(os.loadavg()[0] * 100) / 100;
  const full: BenchReport = { ...report, goals: evaluateGoals(report) };
  say('3/3 results');
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, `${JSON.stringify(full, null, 2)}\n`);
  if (opts.resultsMd) fs.writeFileSync(path.join(REPO_ROOT, 'bench', 'RESULTS.md'), renderMarkdown(full));
  console.log(`\n${renderText(full)}\n`);
  say(`written: ${path.relative(REPO_ROOT, opts.out)}${opts.resultsMd ? ', bench/RESULTS.md' : ''}`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`[bench] failed: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  },
);
