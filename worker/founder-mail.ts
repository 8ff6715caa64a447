/**
 * Emails to the founder: what they say, and the loop that sends the outbox (registry/founder-notifications.ts)
 * over real SMTP (vendors/smtp-client.ts). The email is queued in the transaction of the fact it reports; this module
 * only delivers it, retrying while the SMTP server is unreachable.
 */
import type { Logger } from 'pino';
import type { Pool } from 'pg';
import { WakeableLoop, type PassOutcome } from '../common/timing';
import type { FounderMailer } from '../vendors/smtp-client';
import { backoffMs } from '../vendors/vendor-request';
import type { Church } from '../registry/churches';
import { deliverFounderNotifications, type FounderNotification } from '../registry/founder-notifications';
import type { ProvisioningJob } from '../registry/jobs';
import type { RuleFailure } from '../common/phone-numbers';

export interface EmailText {
  subject: string;
  body: string;
}

/** How the founder finishes a church's line by hand; the email names it. */
export function manualProvisionCommands(churchId: string, stackName: string): string[] {
  return [
    `npx churchwise church provision --church ${churchId}   ` +
      `# queue it and run the stack once (in this repository, after npm run build)`,
    `pulumi up -s ${stackName}   # or run the stack directly (it provisions every church in the registry)`,
  ];
}

export function provisioningFailedEmail(input: {
  job: ProvisioningJob;
  church?: Church;
  failedStep: string;
  error: string;
  stackName: string;
}): EmailText {
  const { job, church, failedStep, error, stackName } = input;
  const where = church?.requestedNumber
    ? `number ${church.requestedNumber}`
    : church?.areaCode
      ? `area code ${church.areaCode}`
      : 'no area code on record';
  return {
    subject: `[ChurchWise voice] Line for church ${job.churchId} NOT provisioned: failed at ${failedStep}`,
    body: [
      `Provisioning the phone line of church ${job.churchId}` +
        `${church ? ` (${church.name}, ${where}, plan ${church.plan})` : ''} ` +
        `failed ${job.attempts} time(s) and will not be retried automatically.`,
      '',
      `Failed step: ${failedStep}`,
      `Error: ${error}`,
      '',
      `Job #${job.id}, last stack run ${job.runId ?? '?'}, queued because: ${job.reason}`,
      '',
      'To finish the job by hand once the cause is fixed:',
      ...manualProvisionCommands(job.churchId, stackName).map((c) => `  ${c}`),
      '',
      `Progress: GET /churches/${job.churchId}/status (bearer ADMIN_TOKEN).`,
    ].join('\n'),
  };
}

const day = (date: Date | null | undefined) => (date ? date.toISOString().slice(0, 10) : '(unknown)');

/** What parking does, and how it is undone or finished: the same lines in both parking emails. */
function parkingLines(church: Church, stackName: string): string[] {
  return [
    `The line is being PARKED on stack ${stackName}: the number moves to the fallback TeXML application (callers`,
    'hear that the line is no longer active), the LiveKit trunk and dispatch rule are removed, and the',
    'church_voice_agents row says parked. The number itself is NOT released: it stays on the account with its',
    `church reference until the quarantine ends on ${day(church.quarantineUntil)}, and after that too until you`,
    'decommission it.',
    '',
    'Undo: if the church subscribes again (a new checkout for the same church, or the subscription reactivated),',
    'the same number comes back with a new trunk, rule and row, and nothing is ordered.',
    '',
    'To release the number for good (two runs: record the decommission, then delete):',
    `  npx churchwise church decommission --church ${church.churchId}`,
  ];
}

export function cancellationEmail(input: {
  church: Church;
  eventId: string;
  stripeSubscriptionId: string;
  stackName: string;
}): EmailText {
  const { church } = input;
  return {
    subject: `[ChurchWise voice] ${church.churchId} (${church.name}) cancelled: line parked, number kept`,
    body: [
      `Stripe subscription ${input.stripeSubscriptionId} of church ${church.churchId} ` +
        `(${church.name}) was cancelled (event ${input.eventId}).`,
      '',
      ...parkingLines(church, input.stackName),
    ].join('\n'),
  };
}

/** A past_due church's grace period ran out: its line is parked. */
export function graceExpiredEmail(input: { church: Church; stackName: string }): EmailText {
  const { church } = input;
  return {
    subject: `[ChurchWise voice] ${church.churchId} (${church.name}): grace period over, line parked, number kept`,
    body: [
      `The grace period of church ${church.churchId} (${church.name}) ended on ${day(church.parkedAt)} without`,
      'the payment being recovered.',
      '',
      ...parkingLines(church, input.stackName),
    ].join('\n'),
  };
}

/** A pastor's held number was gone when the payment came; the line got another in the same area code. */
export function substituteNumberEmail(input: { church: Church; phoneNumber: string; stackName: string }): EmailText {
  const { church } = input;
  return {
    subject: `[ChurchWise voice] ${church.churchId} (${church.name}): held number gone, line got ${input.phoneNumber}`,
    body: [
      `Church ${church.churchId} (${church.name}) paid for ${church.requestedNumber ?? 'a held number'}, but its hold`,
      `had lapsed and the number was taken by the time the line was set up. The line on stack ${input.stackName} got`,
      `${input.phoneNumber} instead: the easiest to remember number left in the same area code. One number was`,
      'bought and the church was charged once. The pastor sees this on the line status page.',
    ].join('\n'),
  };
}

/** A parked number's quarantine ended: a reminder that only a decommission releases it. */
export function quarantineOverEmail(input: { church: Church; stackName: string }): EmailText {
  const { church } = input;
  return {
    subject: `[ChurchWise voice] ${church.churchId} (${church.name}): quarantine over, number still owned`,
    body: [
      `The line of church ${church.churchId} (${church.name}) has been parked since ${day(church.parkedAt)}; its`,
      `quarantine ended on ${day(church.quarantineUntil)}. The number is still on the account (and still billed),`,
      'answering with the fallback message. Nothing releases it by itself.',
      '',
      'If the church is not coming back, release the number:',
      `  npx churchwise church decommission --church ${church.churchId}`,
      `  (stack ${input.stackName}; you get this reminder once)`,
    ].join('\n'),
  };
}

/** A voice plan was paid for, but the event does not say which church or where: the founder must step in. */
/** A voice plan's payment failed: the grace period has started, the line keeps working. */
export function paymentTroubleEmail(input: {
  church: Church;
  eventId: string;
  reason: string;
  stackName: string;
}): EmailText {
  const { church } = input;
  const until = church.graceUntil ? church.graceUntil.toISOString().slice(0, 10) : 'the end of the grace period';
  return {
    subject: `[ChurchWise voice] ${church.churchId} (${church.name}): payment failed, line kept until ${until}`,
    body: [
      `The voice plan payment of church ${church.churchId} (${church.name}) failed ` +
        `(${input.reason}, event ${input.eventId}).`,
      '',
      `Its grace period runs until ${until}. The line keeps working meanwhile and nothing was changed on stack`,
      `${input.stackName}. If Stripe collects the payment, the church goes back to normal by itself.`,
      'You get this email once per grace period, however often Stripe retries the payment.',
    ].join('\n'),
  };
}

export function unusablePurchaseEmail(input: {
  eventId: string;
  eventType: string;
  churchId?: string;
  stripeCustomerId?: string;
  stripeSubscriptionId?: string;
  failures: RuleFailure[];
}): EmailText {
  return {
    subject:
      `[ChurchWise voice] Voice plan bought but not provisioned: ` +
      `${input.failures.map((f) => f.property).join(', ')} unusable`,
    body: [
      `Stripe event ${input.eventId} (${input.eventType}) is a ` +
        `voice-plan purchase that cannot be provisioned automatically:`,
      ...input.failures.map((f) => `  - ${f.reason}`),
      '',
      `Church id: ${input.churchId ?? '(none: set metadata.church_id or client_reference_id)'}`,
      `Customer: ${input.stripeCustomerId ?? '?'}, subscription: ${input.stripeSubscriptionId ?? '?'}`,
      '',
      'Checkout sessions and subscriptions must carry metadata.church_id and metadata.area_code. To provision by hand:',
      `  curl -X POST https://<webhook host>/admin/provision-number -H "authorization: Bearer $ADMIN_TOKEN" \\`,
      `    -H 'content-type: application/json' -d '{"churchId":"<church id>","areaCode":"<3 digits>"}'`,
    ].join('\n'),
  };
}

/**
 * Sends queued founder emails: on wake (right after the fact was committed) and on a timer for retries. One
 * delivery pass at a time in this process; across processes the outbox rows are locked one by one.
 */
export class FounderNotifier {
  private readonly loop: WakeableLoop;

  constructor(
    private readonly pool: Pool,
    private readonly mailer: FounderMailer,
    private readonly logger: Logger,
    private readonly options: { retryPollMs: number; retryBaseMs: number; retryMaxMs: number } = {
      retryPollMs: 30000,
      retryBaseMs: 5000,
      retryMaxMs: 600000,
    },
  ) {
    this.loop = new WakeableLoop({
      pass: () => this.deliver(),
      restMs: () => this.options.retryPollMs,
      onError: (error) =>
        this.logger.error({ component: 'founder-mail', err: error }, 'founder email outbox could not be read'),
    });
  }

  /** Starts the retry timer and sends anything left unsent by a previous process. */
  start(): void {
    this.wake();
  }

  wake(): void {
    this.loop.wake();
  }

  /** Resolves once no delivery pass is running (tests, shutdown). */
  async idle(): Promise<void> {
    await this.loop.idle();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    this.mailer.close();
  }

  /** One pass over the outbox: every due email, each sent once. */
  private async deliver(): Promise<PassOutcome> {
    const report = await deliverFounderNotifications(this.pool, (n) => this.send(n), {
      retryDelayMs: (attempts) =>
        backoffMs(
          {
            attempts: Number.MAX_SAFE_INTEGER,
            baseDelayMs: this.options.retryBaseMs,
            maxDelayMs: this.options.retryMaxMs,
          },
          attempts,
        ),
    });
    if (report.sent || report.failed)
      this.logger.info({ component: 'founder-mail', ...report }, 'founder emails delivered');
    return 'rest';
  }

  private async send(notification: FounderNotification): Promise<void> {
    try {
      await this.mailer.send({ subject: notification.subject, text: notification.body });
      this.logger.info(
        {
          component: 'founder-mail',
          notificationId: notification.id,
          churchId: notification.churchId,
          subject: notification.subject,
        },
        'founder emailed',
      );
    } catch (error) {
      this.logger.warn(
        { component: 'founder-mail', notificationId: notification.id, churchId: notification.churchId, err: error },
        'founder email not sent; will retry',
      );
      throw error;
    }
  }
}
