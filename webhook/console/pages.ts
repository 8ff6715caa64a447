/**
 * The founder console, served by the service under /console:
 *
 *   GET  /console/sign-in, POST /console/sign-in   the admin token, exchanged for a session cookie
 *   POST /console/sign-out
 *   GET  /console                                   needs attention, trends, the fleet (search and filters)
 *   GET  /console/churches/:id                      a church: its line, its whole timeline, its actions
 *   POST /console/churches/:id/retry                queue the church again (its failed job gets a new one)
 *   POST /console/churches/:id/ring                 a test ring now (a task)
 *   POST /console/churches/:id/decommission         release the line, confirmed by typing its number (a task)
 *   POST /console/drift-check                       a drift check now (a task)
 *   POST /console/doctor                            the doctor now (a task)
 *   GET  /console/tasks/:id(.json)                  a task's progress
 *
 * Everything shown comes from the registry (which the worker, the checks and the tasks write); a page load calls no
 * vendor and runs no engine. The session is an HttpOnly, SameSite=Strict cookie signed with a key derived from
 * ADMIN_TOKEN, expiring after 8 hours; every POST carries a CSRF token; every action is in the church's timeline
 * (console_tasks, church_timeline) with who did it. Nobody without the session sees any page or data.
 */
import { stackOfShard } from '../../common/fleet-shards';
import { createHash, createHmac, timingSafeEqual } from 'crypto';
import * as path from 'path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Pool } from 'pg';
import { formatUsNumber } from '../../common/number-choice';
import { checkChurchId, getChurch } from '../../registry/churches';
import {
  churchHistory,
  dailyFigures,
  fleetLines,
  getConsoleTask,
  latestCheckReport,
  runningConsoleTask,
  startConsoleTask,
  updateConsoleTask,
  type ConsoleTask,
  type ConsoleTaskKind,
  type FleetLine,
} from '../../registry/console';
import { enqueue } from '../../registry/jobs';
import { recordTimeline } from '../../registry/timeline';
import { withTransaction } from '../../registry/db';
import type { DriftReport } from '../../checks/drift';
import type { DoctorReport } from '../../checks/doctor';
import { formSecurity, htmlPages, isCsrfRefusal, serveAssets } from '../html-pages';

/** The long actions, carried out by the service (the worker, the checks); each reports progress as it goes. */
export interface ConsoleActions {
  stackName: string;
  /** Removes secrets from text that is about to be stored or shown (an engine error, a vendor message). */
  scrub(text: string): string;
  /** A job was queued: run soon. */
  wakeWorker(): void;
  ring(churchId: string, progress: (text: string) => void): Promise<{ ok: boolean; summary: string }>;
  driftCheck(progress: (text: string) => void): Promise<{ drift: boolean; summary: string; report: unknown }>;
  decommission(churchId: string, progress: (text: string) => void): Promise<{ done: boolean; summary: string }>;
  doctor(progress: (text: string) => void): Promise<{ ok: boolean; summary: string }>;
  /** The lines in service and the locked objects, from the stack's config (read once, then cached). */
  linesInService(): Promise<InServiceView>;
}

export interface InServiceView {
  churches: Array<{ churchId: string; name: string; phoneNumber: string; trunkId: string; dispatchRuleId?: string }>;
  twilioTrunks: Array<{ trunkId: string; numbers: string[] }>;
  lockedIds: string[];
}

export interface ConsoleOptions {
  pool: Pool;
  adminToken: string;
  actions: ConsoleActions;
  now?: () => Date;
  /** Secure cookies (https deployments). */
  secureCookies?: boolean;
}

const VIEWS = path.join(__dirname, 'views');
const ASSETS = path.join(__dirname, 'assets');
const SESSION_COOKIE = 'churchwise_console';
export const SESSION_HOURS = 8;
const QUARANTINE_WARNING_DAYS = 7;
// uPlot draws axes and legends with data: URLs.
const pages = htmlPages(VIEWS, { imgSrc: ['data:'] });

/** Shown in the timeline as who did it: one founder, one token. */
const FOUNDER = 'founder (console)';

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function ago(then: Date, now: Date): string {
  const seconds = Math.max(0, Math.round((now.getTime() - then.getTime()) / 1000));
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

const display = (number: string | null | undefined) => {
  if (!number) return '-';
  try {
    return formatUsNumber(number);
  } catch {
    return number;
  }
};

class ConsoleError extends Error {
  constructor(
    readonly statusCode: number,
    readonly heading: string,
    message: string,
  ) {
    super(message);
  }
}

export const FLEET_FILTERS = [
  { value: '', label: 'All lines' },
  { value: 'failed', label: 'Failed' },
  { value: 'drifted', label: 'Drifted' },
  { value: 'parked', label: 'Parked' },
  { value: 'never-rung', label: 'Never rung' },
];

/** The drift report as the console reads it back from the registry (checks/drift/types.ts DriftReport). */
type StoredDriftReport = Pick<DriftReport, 'churches'>;

const shown = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value ?? null));

export async function founderConsole(app: FastifyInstance, options: ConsoleOptions): Promise<void> {
  const now = () => options.now?.() ?? new Date();
  const { pool, actions } = options;
  // A key of its own, derived from the admin token: the cookie never carries the token itself.
  const sessionKey = createHmac('sha256', options.adminToken).update('churchwise console session').digest('hex');
  await formSecurity(app, {
    cookieSecret: sessionKey,
    csrfCookie: 'churchwise_console_csrf',
    path: '/console',
    secure: options.secureCookies,
  });

  const signedIn = (request: FastifyRequest): boolean => {
    const raw = request.cookies[SESSION_COOKIE];
    if (!raw) return false;
    const unsigned = request.unsignCookie(raw);
    if (!unsigned.valid || !unsigned.value) return false;
    const match = /^founder:(\d+)$/.exec(unsigned.value);
    return match !== null && Number(match[1]) > now().getTime();
  };

  // Every page but the sign-in is for the signed-in founder (the layout shows the sign-out then).
  const page = (reply: FastifyReply, status: number, view: string, data: Record<string, unknown>) =>
    pages.send(reply, status, view, { signedIn: true, ...data });

  serveAssets(app, '/console/assets', {
    'console.css': { file: path.join(ASSETS, 'console.css'), type: 'text/css' },
    'console.js': { file: path.join(ASSETS, 'console.js'), type: 'text/javascript' },
    'uplot.js': { file: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript' },
    'uplot.css': { file: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css' },
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (error instanceof ConsoleError)
      return page(reply, error.statusCode, 'problem', {
        title: error.heading,
        heading: error.heading,
        message: error.message,
      });
    if (isCsrfRefusal(error))
      return page(reply, 403, 'problem', {
        title: 'Refused',
        heading: 'Refused: reload the page and try again',
        message: 'The form was missing its CSRF token (an old page, or a form from another site). Nothing was done.',
        signedIn: signedIn(request),
      });
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error }, 'console page failed');
    return page(reply, status, 'problem', {
      title: 'Something went wrong',
      heading: 'Something went wrong',
      message: status >= 500 ? 'The console could not do that; see the service log.' : error.message,
      signedIn: signedIn(request),
    });
  });

  app.get('/console/sign-in', async (request, reply) =>
    page(reply, 200, 'signin', { title: 'Sign in', signedIn: false, csrf: reply.generateCsrf() }),
  );

  app.post('/console/sign-in', { preHandler: app.csrfProtection }, async (request, reply) => {
    const token = String((request.body as Record<string, unknown> | undefined)?.token ?? '');
    const ok = timingSafeEqual(sha256(token), sha256(options.adminToken)) && token.length > 0;
    if (!ok) {
      request.log.warn('console sign-in refused');
      return page(reply, 401, 'signin', {
        title: 'Sign in',
        signedIn: false,
        csrf: reply.generateCsrf(),
        error: 'That is not the admin token (ADMIN_TOKEN of this service).',
      });
    }
    const expires = new Date(now().getTime() + SESSION_HOURS * 3600_000);
    reply.setCookie(SESSION_COOKIE, `founder:${expires.getTime()}`, {
      path: '/console',
      httpOnly: true,
      sameSite: 'strict',
      secure: options.secureCookies,
      signed: true,
      expires,
    });
    return reply.redirect('/console', 303);
  });

  // Everything below needs the session: pages redirect to the sign-in, actions are refused.
  app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      if (signedIn(request)) return;
      if (request.method === 'GET') return reply.redirect('/console/sign-in', 303);
      throw new ConsoleError(401, 'Sign in first', 'This action needs the founder signed in. Nothing was done.');
    });

    scope.post('/console/sign-out', { preHandler: scope.csrfProtection }, async (_request, reply) => {
      reply.clearCookie(SESSION_COOKIE, { path: '/console' });
      return reply.redirect('/console/sign-in', 303);
    });

    scope.get('/console', async (request, reply) => {
      const query = request.query as { q?: string; show?: string };
      const q = (query.q ?? '').trim().toLowerCase();
      const show = FLEET_FILTERS.some((f) => f.value === query.show) ? (query.show ?? '') : '';
      const at = now();
      const [fleet, inService, drift, doctor, figures] = await Promise.all([
        fleetLines(pool),
        actions.linesInService().catch(() => undefined),
        latestCheckReport<StoredDriftReport>(pool, 'drift', actions.stackName),
        latestCheckReport<Pick<DoctorReport, 'findings'>>(pool, 'doctor', actions.stackName),
        dailyFigures(pool),
      ]);
      const drifted = new Set(
        (drift?.report.churches ?? []).filter((c) => c.churchId && c.resources.length > 0).map((c) => c.churchId!),
      );
      const failed = fleet.filter((l) => l.jobState === 'failed');
      const parked = fleet.filter(
        (l) =>
          l.status === 'parked' &&
          l.quarantineUntil &&
          l.quarantineUntil.getTime() - at.getTime() < QUARANTINE_WARNING_DAYS * 86400_000,
      );
      const driftItems = (drift?.report.churches ?? []).flatMap((c) =>
        c.resources.map((r) => ({
          who: c.churchName ?? c.churchId ?? 'not a church (shared or locked objects)',
          what: `${r.kind} ${r.id} ${r.state === 'missing' ? 'is gone' : 'was changed by hand'}`,
          changes: r.properties.map((ch) => ({
            property: ch.property,
            before: shown(ch.before),
            after: shown(ch.after),
          })),
          repair: r.actions.join(' '),
        })),
      );
      const matches = (l: FleetLine) =>
        !q ||
        [l.name, l.churchId, l.phoneNumber ?? '', display(l.phoneNumber), l.trunkId ?? '', l.dispatchRuleId ?? '']
          .join(' ')
          .toLowerCase()
          .includes(q);
      const filter = (l: FleetLine) =>
        show === 'failed'
          ? l.jobState === 'failed'
          : show === 'drifted'
            ? drifted.has(l.churchId)
            : show === 'parked'
              ? l.status === 'parked' || l.status === 'parking'
              : show === 'never-rung'
                ? l.ringAt === null
                : true;
      const rows = fleet
        .filter((l) => matches(l) && filter(l))
        .map((l) => ({
          href: `/console/churches/${l.churchId}`,
          name: l.name,
          number: display(l.phoneNumber),
          trunkId: l.trunkId ?? '-',
          ruleId: l.dispatchRuleId ?? '-',
          row: l.phoneNumber ? `church_voice_agents/${l.churchId}` : '-',
          // Its shard stack, where `pulumi preview -s <stack>` shows it (common/fleet-shards.ts).
          stack: stackOfShard(actions.stackName, l.shard),
          state: `${l.status}${l.jobState && l.jobState !== 'succeeded' ? `, job ${l.jobState}` : ''}${
            drifted.has(l.churchId) ? ', drifted' : ''
          }`,
          ring: l.ringAt ? `${l.ringOk ? 'passed' : 'FAILED'} ${ago(l.ringAt, at)}` : 'never rung',
          rowClass: l.jobState === 'failed' ? 'failed' : '',
        }));
      // The lines in service and the locked objects: shown as such, with no control that could change them.
      const fixed =
        show === '' && inService ? fixedRows(inService, actions.stackName).filter((r) => fixedRowMatches(r, q)) : [];
      return page(reply, 200, 'fleet', {
        title: 'Fleet',
        charts: true,
        csrf: reply.generateCsrf(),
        stack: actions.stackName,
        query: { q: query.q ?? '', show },
        filters: FLEET_FILTERS,
        total: fleet.length + (inService ? fixedRows(inService, actions.stackName).length : 0),
        lines: [...rows, ...fixed],
        attention: {
          count: failed.length + driftItems.length + parked.length + (doctor?.report.findings.length ?? 0),
          doctor: doctor && {
            checkedAgo: ago(doctor.checkedAt, at),
            checkedAt: doctor.checkedAt.toISOString(),
            findings: doctor.report.findings,
          },
          failed: failed.map((f) => ({
            churchId: f.churchId,
            name: f.name,
            failedStep: f.failedStep ?? 'engine',
            error: plainError(f.lastError),
          })),
          drift: drift && {
            checkedAt: drift.checkedAt.toISOString(),
            checkedAgo: ago(drift.checkedAt, at),
            items: driftItems,
          },
          parked: parked.map((p) => ({
            churchId: p.churchId,
            name: p.name,
            number: display(p.phoneNumber),
            until: p.quarantineUntil!.toISOString().slice(0, 10),
          })),
        },
        figures,
        // JSON inside <script type="application/json">: "<" escaped so no text can close the element.
        figuresJson: JSON.stringify(figures).replace(/</g, '\\u003c'),
      });
    });

    scope.get<{ Params: { id: string } }>('/console/churches/:id', async (request, reply) =>
      churchPage(request.params.id, reply, undefined),
    );

    const churchPage = async (churchId: string, reply: FastifyReply, confirmError: string | undefined) => {
      if (checkChurchId('id', churchId))
        throw new ConsoleError(400, 'No such church', `${churchId} is not a church id`);
      const church = await getChurch(pool, churchId);
      if (!church) throw new ConsoleError(404, 'No such church', `church ${churchId} is not in the registry`);
      const [line] = await fleetLines(pool, { churchId });
      const at = now();
      return page(reply, confirmError ? 400 : 200, 'church', {
        title: church.name,
        csrf: reply.generateCsrf(),
        church,
        line,
        number: display(line.phoneNumber),
        ring: line.ringAt ? `${line.ringOk ? 'passed' : 'FAILED'} ${ago(line.ringAt, at)}` : 'never rung',
        canDecommission: Boolean(line.phoneNumber) && church.status !== 'decommissioned',
        confirmError,
        history: await churchHistory(pool, churchId),
      });
    };

    const churchFor = async (request: FastifyRequest) => {
      const { id } = request.params as { id: string };
      if (checkChurchId('id', id)) throw new ConsoleError(400, 'No such church', `${id} is not a church id`);
      const church = await getChurch(pool, id);
      if (!church) throw new ConsoleError(404, 'No such church', `church ${id} is not in the registry`);
      return church;
    };

    scope.post('/console/churches/:id/retry', { preHandler: scope.csrfProtection }, async (request, reply) => {
      const church = await churchFor(request);
      await withTransaction(pool, async (tx) => {
        await enqueue(tx, church.churchId, 'console retry');
        await recordTimeline(tx, {
          churchId: church.churchId,
          kind: 'retry',
          fromStatus: church.status,
          toStatus: church.status,
          actor: 'founder',
          cause: FOUNDER,
          detail: 'provisioning queued again from the console',
        });
      });
      actions.wakeWorker();
      return reply.redirect(`/console/churches/${church.churchId}`, 303);
    });

    scope.post('/console/churches/:id/ring', { preHandler: scope.csrfProtection }, async (request, reply) => {
      const church = await churchFor(request);
      const task = await runTask('ring', church.churchId, (progress) => actions.ring(church.churchId, progress));
      return reply.redirect(`/console/tasks/${task.id}`, 303);
    });

    scope.post('/console/churches/:id/decommission', { preHandler: scope.csrfProtection }, async (request, reply) => {
      const church = await churchFor(request);
      const [line] = await fleetLines(pool, { churchId: church.churchId });
      const typed = String((request.body as Record<string, unknown> | undefined)?.confirm ?? '').replace(/\D/g, '');
      const expected = (line?.phoneNumber ?? '').replace(/\D/g, '');
      // Typed as printed ((214) 555-0100) or as stored (+12145550100): the digits must be the number's.
      const confirmed = expected !== '' && (typed === expected || `1${typed}` === expected);
      if (!confirmed) {
        return churchPage(
          church.churchId,
          reply,
          `That is not ${display(line?.phoneNumber)}: type the church's number exactly to confirm. Nothing was done.`,
        );
      }
      const task = await runTask('decommission', church.churchId, (progress) =>
        actions.decommission(church.churchId, progress),
      );
      return reply.redirect(`/console/tasks/${task.id}`, 303);
    });

    scope.post('/console/doctor', { preHandler: scope.csrfProtection }, async (_request, reply) => {
      const task = await runTask('doctor', undefined, (progress) => actions.doctor(progress));
      return reply.redirect(`/console/tasks/${task.id}`, 303);
    });

    scope.post('/console/drift-check', { preHandler: scope.csrfProtection }, async (_request, reply) => {
      const task = await runTask('drift-check', undefined, async (progress) => {
        const result = await actions.driftCheck(progress);
        return { ok: true, summary: result.summary };
      });
      return reply.redirect(`/console/tasks/${task.id}`, 303);
    });

    const taskView = async (id: number) => {
      const task = await getConsoleTask(pool, id);
      if (!task) throw new ConsoleError(404, 'No such task', `task ${id} does not exist`);
      const result = (task.result ?? {}) as { summary?: string };
      return {
        task,
        heading: `${task.kind}${task.churchId ? ` of ${task.churchId}` : ''}`,
        stateText: { running: 'Running…', succeeded: 'Done', failed: 'Failed' }[task.state],
        summary: result.summary,
        back: task.churchId ? `/console/churches/${task.churchId}` : '/console',
      };
    };

    scope.get<{ Params: { id: string } }>('/console/tasks/:id', async (request, reply) => {
      const view = await taskView(Number(request.params.id.replace(/\.json$/, '')));
      if (request.params.id.endsWith('.json'))
        return reply
          .header('cache-control', 'no-store')
          .send({ done: view.task.state !== 'running', html: pages.render('task-status', view) });
      return page(reply, 200, 'task', {
        title: view.heading,
        csrf: reply.generateCsrf(),
        refreshSeconds: view.task.state === 'running' ? 2 : undefined,
        ...view,
      });
    });
  });

  /** Starts `work` as a task (one of a kind per church at a time) and returns at once; the page follows it. */
  async function runTask(
    kind: ConsoleTaskKind,
    churchId: string | undefined,
    work: (progress: (text: string) => void) => Promise<{ ok?: boolean; done?: boolean; summary: string }>,
  ): Promise<ConsoleTask> {
    const running = await runningConsoleTask(pool, kind, churchId);
    if (running) return running;
    const task = await startConsoleTask(pool, { kind, churchId, actor: FOUNDER });
    let log = '';
    let pending = Promise.resolve();
    const progress = (text: string) => {
      log = `${log}${text.endsWith('\n') ? text : `${text}\n`}`.slice(-4000);
      pending = pending.then(() => updateConsoleTask(pool, task.id, { progress: log }).catch(() => undefined));
    };
    void (async () => {
      try {
        const outcome = await work(progress);
        await pending;
        const ok = outcome.ok ?? outcome.done ?? true;
        await updateConsoleTask(pool, task.id, { state: ok ? 'succeeded' : 'failed', result: outcome, progress: log });
      } catch (error) {
        await pending;
        const message = error instanceof Error ? error.message : String(error);
        await updateConsoleTask(pool, task.id, {
          state: 'failed',
          result: { summary: actions.scrub(message).slice(0, 2000) },
          progress: log,
        }).catch(() => undefined);
      }
    })();
    return task;
  }
}

/** The first sentence of a stored error: what went wrong, without an engine dump. */
function plainError(error: string | null): string {
  if (!error) return 'no error recorded';
  const first = error.split('\n').find((line) => line.trim() !== '') ?? error;
  return first.length > 300 ? `${first.slice(0, 297)}…` : first;
}

interface FixedRow {
  href?: undefined;
  name: string;
  number: string;
  trunkId: string;
  ruleId: string;
  row: string;
  stack: string;
  state: string;
  ring: string;
  rowClass: string;
}

function fixedRows(view: InServiceView, stack: string): FixedRow[] {
  return [
    ...view.churches.map((c) => ({
      name: c.name,
      number: display(c.phoneNumber),
      trunkId: c.trunkId,
      ruleId: c.dispatchRuleId ?? '(found by trunk)',
      row: `church_voice_agents/${c.churchId}`,
      stack,
      state: 'in service (adopted, protected)',
      ring: 'on demand only',
      rowClass: 'in-service',
    })),
    ...view.twilioTrunks.map((t) => ({
      name: `Twilio trunk ${t.trunkId}`,
      number: t.numbers.map(display).join(', '),
      trunkId: t.trunkId,
      ruleId: '-',
      row: '-',
      stack,
      state: 'legacy Twilio (adopted, protected)',
      ring: '-',
      rowClass: 'in-service',
    })),
    ...view.lockedIds.map((id) => ({
      name: `Locked ${id.startsWith('SDR_') ? 'dispatch rule' : 'trunk'} ${id}`,
      number: '-',
      trunkId: id.startsWith('SDR_') ? '-' : id,
      ruleId: id.startsWith('SDR_') ? id : '-',
      row: '-',
      stack,
      state: 'LOCKED: nothing may change it',
      ring: '-',
      rowClass: 'locked',
    })),
  ];
}

function fixedRowMatches(row: FixedRow, q: string): boolean {
  return !q || [row.name, row.number, row.trunkId, row.ruleId].join(' ').toLowerCase().includes(q);
}
