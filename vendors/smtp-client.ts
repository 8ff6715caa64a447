/**
 * The founder's mail: one nodemailer SMTP transport from SMTP_URL (smtp:// or smtps://, credentials in the URL).
 * The worker's outbox (worker/founder-mail.ts) and the drift report's --email send through it.
 */
import * as nodemailer from 'nodemailer';

export interface FounderMailer {
  send(message: { subject: string; text: string }): Promise<void>;
  close(): void;
}

export function smtpFounderMailer(options: { smtpUrl: string; from: string; to: string }): FounderMailer {
  const transport = nodemailer.createTransport(options.smtpUrl);
  return {
    async send({ subject, text }) {
      await transport.sendMail({ from: options.from, to: options.to, subject, text });
    },
    close: () => transport.close(),
  };
}
