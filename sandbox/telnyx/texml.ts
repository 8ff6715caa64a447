/**
 * How the stand-in answers a call to a number on a TeXML application, as Telnyx does: it requests the application's
 * `voice_url` (with `voice_method`; POST sends the parameters form-encoded, GET in the query), reads the TeXML
 * document it answers and carries it out. The stand-in only reads `<Say>` texts and the verbs: a call whose document
 * is TeXML is answered and then completes (`normal_clearing`); a `voice_url` that cannot be reached, answers
 * non-2xx or answers something that is not a `<Response>` document is retried once at `voice_fallback_url` when the
 * application has one, and otherwise the call ends unanswered. Like call webhooks, requests go to loopback addresses
 * only: any other URL is recorded as not fetched.
 *
 * The spec has no schema of these requests; the parameter names are those of Telnyx's TeXML documentation.
 */
import type { TexmlApplicationRecord } from './state';
import { isLoopbackUrl } from './webhooks';

/** What a TeXML request sent and got back: kept on the call in the stand-in's state (the API's Call has no room). */
export interface TexmlAnswer {
  application_id: string;
  /** The URL requested last (`voice_fallback_url` when `voice_url` failed and there is one). */
  url: string;
  method: 'GET' | 'POST';
  /** The parameters sent (form body or query). */
  params: Record<string, string>;
  requested_at: string;
  /** HTTP status of the answer, when there was one. */
  status?: number;
  content_type?: string;
  /** The answer's body as text (the TeXML document). */
  body?: string;
  /** The verbs of the `<Response>`, in order (`Say`, `Hangup`, ...). */
  verbs?: string[];
  /** The text of every `<Say>`, entities decoded. */
  say?: string[];
  /** Why no usable TeXML came back; unset when the call was answered. */
  error?: string;
  /** The failed attempt at `voice_url` when `voice_fallback_url` was tried after it. */
  primary?: Omit<TexmlAnswer, 'primary'>;
}

/** Time a TeXML request may take before it counts as failed (Telnyx waits about as long). */
export const TEXML_FETCH_TIMEOUT_MS = 10_000;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);/g, (whole, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)));
    return ENTITIES[name] ?? whole;
  });
}

/**
 * The verbs and `<Say>` texts of a TeXML document; an error when it is not one (`<Response>` as the root element,
 * after an optional XML declaration and comments).
 */
export function parseTexml(body: string): { verbs: string[]; say: string[] } | { error: string } {
  const text = body
    .replace(/^\uFEFF/, '')
    .replace(/<\?xml[^?]*\?>/, '')
    .replace(/<!--[\s\S]*?-->/g, '')
    .trim();
  const root = /^<Response\s*\/>$/.test(text) ? '' : /^<Response(?:\s[^>]*)?>([\s\S]*)<\/Response>$/.exec(text)?.[1];
  if (root === undefined) return { error: 'the answer is not a TeXML document (no <Response> root element)' };
  const verbs: string[] = [];
  const say: string[] = [];
  // Top-level elements only: a verb's nested nouns (<Dial><Number>) are skipped with their parent.
  const element = /<([A-Za-z][\w-]*)(?:\s[^>]*?)?(?:\/>|>([\s\S]*?)<\/\1\s*>)/g;
  for (let match = element.exec(root); match; match = element.exec(root)) {
    verbs.push(match[1]);
    if (match[1] === 'Say') say.push(decodeEntities((match[2] ?? '').trim()));
  }
  return { verbs, say };
}

/** The parameters Telnyx sends with the first TeXML request of an inbound call. */
export function texmlCallParams(call: {
  accountSid: string;
  callSid: string;
  callSessionId: string;
  applicationId: string;
  from: string;
  to: string;
}): Record<string, string> {
  return {
    AccountSid: call.accountSid,
    CallSid: call.callSid,
    CallSessionId: call.callSessionId,
    ConnectionId: call.applicationId,
    From: call.from,
    To: call.to,
    CallStatus: 'ringing',
    Direction: 'inbound',
  };
}

async function requestOnce(
  application: TexmlApplicationRecord,
  url: string,
  params: Record<string, string>,
  signal: AbortSignal,
): Promise<TexmlAnswer> {
  const method = application.voice_method === 'get' ? 'GET' : 'POST';
  const answer: TexmlAnswer = {
    application_id: application.id,
    url,
    method,
    params,
    requested_at: new Date().toISOString(),
  };
  if (!isLoopbackUrl(url)) {
    answer.error =
      'not fetched: the stand-in only requests TeXML from loopback addresses (127.0.0.0/8, localhost, ::1)';
    return answer;
  }
  const form = new URLSearchParams(params).toString();
  let target = url;
  if (method === 'GET') target = `${url}${url.includes('?') ? '&' : '?'}${form}`;
  try {
    const response = await fetch(target, {
      method,
      headers: {
        accept: 'application/xml, text/xml',
        ...(method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: method === 'POST' ? form : undefined,
      signal: AbortSignal.any([signal, AbortSignal.timeout(TEXML_FETCH_TIMEOUT_MS)]),
    });
    answer.status = response.status;
    answer.content_type = response.headers.get('content-type') ?? undefined;
    answer.body = await response.text();
  } catch (error) {
    answer.error = `${method} ${url} failed: ${(error as Error).message}`;
    return answer;
  }
  if (answer.status! < 200 || answer.status! > 299) {
    answer.error = `${method} ${url} answered HTTP ${answer.status}`;
    return answer;
  }
  const parsed = parseTexml(answer.body ?? '');
  if ('error' in parsed) {
    answer.error = `${method} ${url}: ${parsed.error}`;
    return answer;
  }
  answer.verbs = parsed.verbs;
  answer.say = parsed.say;
  return answer;
}

/** Requests the application's TeXML for a call, falling back to `voice_fallback_url` once. */
export async function requestTexml(
  application: TexmlApplicationRecord,
  params: Record<string, string>,
  signal: AbortSignal,
): Promise<TexmlAnswer> {
  const first = await requestOnce(application, application.voice_url, params, signal);
  if (!first.error || !application.voice_fallback_url || signal.aborted) return first;
  const fallback = await requestOnce(application, application.voice_fallback_url, params, signal);
  return { ...fallback, primary: first };
}
