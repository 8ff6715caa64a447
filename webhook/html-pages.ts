/**
 * What the service's two sets of web pages share (the pastor's, webhook/pastor/; the founder's console,
 * webhook/console/): Eta templates sent with the same security headers, form bodies with CSRF protection bound to
 * an HttpOnly, SameSite=Strict cookie, and their stylesheets and scripts read once and served from memory.
 */
import * as fs from 'fs';
// @fastify/cookie stays on 11.0.x: 11.1 loads `cookie` with a dynamic import, which jest's CommonJS runtime refuses.
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import { Eta } from 'eta';
import type { FastifyInstance, FastifyReply } from 'fastify';

export interface HtmlPages {
  /** Renders `view` (a template in the views folder) as the whole answer, with the pages' security headers. */
  send(reply: FastifyReply, status: number, view: string, data: Record<string, unknown>): FastifyReply;
  /** Renders a template on its own (a fragment a page's script puts in place). */
  render(view: string, data: Record<string, unknown>): string;
}

/**
 * Templates from `viewsDir` (escaped by default). Every page forbids inline scripts, framing and other origins;
 * `formAction` adds where its forms may post besides itself, `imgSrc` what images may come from besides itself.
 */
export function htmlPages(viewsDir: string, policy: { formAction?: string[]; imgSrc?: string[] } = {}): HtmlPages {
  const eta = new Eta({ views: viewsDir, cache: true, autoTrim: false });
  const csp =
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; " +
    `img-src ${["'self'", ...(policy.imgSrc ?? [])].join(' ')}; ` +
    `form-action ${["'self'", ...(policy.formAction ?? [])].join(' ')}; base-uri 'none'; frame-ancestors 'none'`;
  const render = (view: string, data: Record<string, unknown>) => eta.render(`./${view}`, data);
  return {
    render,
    send: (reply, status, view, data) =>
      reply
        .status(status)
        .header('content-type', 'text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .header('x-frame-options', 'DENY')
        .header('content-security-policy', csp)
        .send(render(view, data)),
  };
}

/**
 * Form bodies, signed cookies (`cookieSecret`) and CSRF protection in this scope: the CSRF secret lives in the
 * HttpOnly, SameSite=Strict cookie `csrfCookie` under `path`; every POST route adds `csrfProtection`.
 */
export async function formSecurity(
  app: FastifyInstance,
  options: { cookieSecret: string; csrfCookie: string; path: string; secure?: boolean },
): Promise<void> {
  await app.register(cookie, { secret: options.cookieSecret });
  await app.register(formbody, { bodyLimit: 4096 });
  await app.register(csrf, {
    cookieKey: options.csrfCookie,
    cookieOpts: { path: options.path, httpOnly: true, sameSite: 'strict', secure: options.secure, signed: true },
  });
}

/** A POST refused by the CSRF check: the form had no token, or one from another page or site. */
export function isCsrfRefusal(error: { code?: string }): boolean {
  return error.code === 'FST_CSRF_INVALID_TOKEN' || error.code === 'FST_CSRF_MISSING_SECRET';
}

/** Serves `GET <prefix>/:name` from files read once at start (cached by browsers for 5 minutes). */
export function serveAssets(
  app: FastifyInstance,
  prefix: string,
  assets: Record<string, { file: string; type: 'text/css' | 'text/javascript' }>,
): void {
  const loaded = new Map(
    Object.entries(assets).map(([name, asset]) => [
      name,
      { type: asset.type, text: fs.readFileSync(asset.file, 'utf8') },
    ]),
  );
  app.get<{ Params: { name: string } }>(`${prefix}/:name`, async (request, reply) => {
    const asset = loaded.get(request.params.name);
    if (!asset) return reply.status(404).send({ error: 'no such asset' });
    return reply
      .header('content-type', `${asset.type}; charset=utf-8`)
      .header('cache-control', 'max-age=300')
      .send(asset.text);
  });
}
