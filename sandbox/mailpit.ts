/**
 * The sandbox's SMTP sink: mailpit (built by scripts/tools.sh) accepts every message on loopback SMTP and shows
 * it on its HTTP API, so a test reads back exactly what the founder would have received.
 */
import { SANDBOX_PORTS } from './ports';
import { logFile, startDaemon, toolPath, waitForPort } from './processes';

const READY_TIMEOUT_MS = 30000;

export interface MailpitConnection {
  /** What the service's SMTP_URL is set to in the sandbox (any user and password is accepted). */
  smtpUrl: string;
  /** Base of the HTTP API, e.g. http://127.0.0.1:8025. */
  apiUrl: string;
}

export function sandboxMailpit(): MailpitConnection {
  return {
    smtpUrl: `smtp://127.0.0.1:${SANDBOX_PORTS.smtp}`,
    apiUrl: `http://127.0.0.1:${SANDBOX_PORTS.mailpitHttp}`,
  };
}

/** Starts mailpit unless it already runs; resolves once both its SMTP and HTTP ports accept connections. */
export async function ensureMailpit(): Promise<MailpitConnection> {
  const command = toolPath('mailpit');
  await startDaemon({
    name: 'mailpit',
    command,
    args: [
      '--listen',
      `127.0.0.1:${SANDBOX_PORTS.mailpitHttp}`,
      '--smtp',
      `127.0.0.1:${SANDBOX_PORTS.smtp}`,
      // Loopback sink: any credentials (or none) over plain SMTP, like a relay that trusts its network.
      '--smtp-auth-accept-any',
      '--smtp-auth-allow-insecure',
      // Nothing may leave the machine: no GitHub release check, no reverse DNS of the sender.
      '--disable-version-check',
      '--smtp-disable-rdns',
      '--max',
      '5000',
    ],
    port: SANDBOX_PORTS.mailpitHttp,
    readyTimeoutMs: READY_TIMEOUT_MS,
  });
  await waitForPort(SANDBOX_PORTS.smtp, READY_TIMEOUT_MS, 'mailpit SMTP', logFile('mailpit'));
  return sandboxMailpit();
}

export interface MailAddress {
  Name: string;
  Address: string;
}

/** A message as mailpit's list and search endpoints summarize it. */
export interface MailSummary {
  ID: string;
  MessageID: string;
  From: MailAddress;
  To: MailAddress[];
  Subject: string;
  Created: string;
  Snippet: string;
}

/** A whole message (GET /api/v1/message/{ID}). */
export interface MailMessage extends MailSummary {
  Text: string;
  HTML: string;
}

async function api<T>(connection: MailpitConnection, method: string, route: string): Promise<T> {
  const response = await fetch(`${connection.apiUrl}${route}`, { method, headers: { accept: 'application/json' } });
  if (!response.ok) {
    throw new Error(
      `mailpit ${method} ${route} answered HTTP ${response.status}: ${(await response.text()).slice(0, 300)}`,
    );
  }
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Newest first, as mailpit lists them. */
export async function listMessages(connection: MailpitConnection = sandboxMailpit()): Promise<MailSummary[]> {
  const page = await api<{ messages: MailSummary[] }>(connection, 'GET', '/api/v1/messages?limit=5000');
  return page.messages;
}

/** Messages sent to one address (tests give each founder address its own, so parallel tests never mix). */
export async function messagesTo(
  address: string,
  connection: MailpitConnection = sandboxMailpit(),
): Promise<MailSummary[]> {
  const page = await api<{ messages: MailSummary[] }>(
    connection,
    'GET',
    `/api/v1/search?limit=5000&query=${encodeURIComponent(`to:"${address}"`)}`,
  );
  return page.messages.filter((m) => m.To.some((to) => to.Address.toLowerCase() === address.toLowerCase()));
}

export async function getMessage(id: string, connection: MailpitConnection = sandboxMailpit()): Promise<MailMessage> {
  return api<MailMessage>(connection, 'GET', `/api/v1/message/${encodeURIComponent(id)}`);
}

export async function deleteAllMessages(connection: MailpitConnection = sandboxMailpit()): Promise<void> {
  await api<unknown>(connection, 'DELETE', '/api/v1/messages');
}
