/**
 * Writes sandbox/telnyx/telnyx-openapi.yml: the part of Telnyx's official OpenAPI spec (telnyx-openapi-spec3.yml,
 * about 4 MB) that the Telnyx stand-in judges requests and responses by, so the repository runs without the full
 * file beside it. Kept: every operation the stand-in serves (the keys of `telnyxOperations` in
 * sandbox/telnyx/router.ts), the number reservation operations (to be served next), the webhook event schemas and
 * the error envelope the stand-in checks by name, and every component those reference, followed through `$ref`
 * (and discriminator mappings) to the end. Paths, operations and components keep the source's order, so the same
 * source always gives the same file.
 *
 *   npx ts-node --transpile-only scripts/trim-telnyx-openapi.ts <path-to-telnyx-openapi-spec3.yml>
 *
 * The full spec was taken from shared/reference/telnyx-openapi-spec3.yml beside the repository. Re-running with an
 * unchanged source leaves the file as it is (its date included); a changed source rewrites it with today's date.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { REPO_ROOT } from '../sandbox/processes';
import type { CallControl } from '../sandbox/telnyx/calls';
import { ERROR_ENVELOPE_SCHEMA, TRIMMED_SPEC_FILE } from '../sandbox/telnyx/openapi';
import { telnyxOperations } from '../sandbox/telnyx/router';
import type { TelnyxState } from '../sandbox/telnyx/state';
import { CALL_EVENT_SCHEMAS } from '../sandbox/telnyx/webhooks';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export const SOURCE_FILE_NAME = 'telnyx-openapi-spec3.yml';

/**
 * Paths kept whole (every method), whatever the handler table holds: the number reservations the pastor's
 * self-service holds numbers with. They were kept before the stand-in served them, and stay listed so the trimmed
 * spec does not depend on which of their methods a handler exists for.
 */
export const RESERVED_PATHS = [
  '/number_reservations',
  '/number_reservations/{number_reservation_id}',
  '/number_reservations/{number_reservation_id}/actions/extend',
] as const;

/**
 * Where the source gives one operationId to several operations, the one the stand-in serves. The official spec also
 * names `GET /v2/whatsapp/phone_numbers` `ListPhoneNumbers` (a path that repeats the server's `/v2`).
 */
export const AMBIGUOUS_OPERATIONS: Record<string, string> = { ListPhoneNumbers: 'get /phone_numbers' };

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** The operationIds the stand-in serves, read off the handler table (nothing is called, so no state is needed). */
export function servedOperationIds(): string[] {
  return Object.keys(telnyxOperations({} as TelnyxState, {} as CallControl));
}

/** Component schemas the stand-in validates by name rather than through an operation. */
export function namedSchemas(): string[] {
  return [...Object.values(CALL_EVENT_SCHEMAS), ERROR_ENVELOPE_SCHEMA];
}

export interface TrimSelection {
  operationIds: string[];
  paths: readonly string[];
  schemas: string[];
}

export function defaultSelection(): TrimSelection {
  return { operationIds: servedOperationIds(), paths: RESERVED_PATHS, schemas: namedSchemas() };
}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `#/components/schemas/Foo` (or a pointer below it) -> ['schemas', 'Foo']; undefined for anything else. */
function componentOf(ref: string): [string, string] | undefined {
  const segments = ref.split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (segments[0] !== '#' || segments[1] !== 'components' || segments.length < 4) return undefined;
  return [segments[2], segments[3]];
}

/**
 * The document cut down to the selected operations and what they reference. Throws when a selected operationId,
 * path or schema is missing from the source, or a reference points outside the components.
 */
export function trimTelnyxSpec(source: JsonObject, selection: TrimSelection = defaultSelection()): JsonObject {
  const sourcePaths = source.paths as Record<string, JsonObject>;
  const sourceComponents = (source.components ?? {}) as Record<string, JsonObject>;
  const wantedPaths = new Set<string>(selection.paths);

  // Each selected operationId names exactly one operation, as `method template`.
  const candidates = new Map<string, string[]>(selection.operationIds.map((id) => [id, []]));
  for (const [template, item] of Object.entries(sourcePaths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!HTTP_METHODS.includes(method) || !isObject(operation)) continue;
      candidates.get(String(operation.operationId))?.push(`${method} ${template}`);
    }
  }
  const wantedOperations = new Set<string>();
  for (const [id, found] of candidates) {
    if (found.length === 0) throw new Error(`operation ${id} is not in the source spec`);
    const chosen = found.length === 1 ? found[0] : AMBIGUOUS_OPERATIONS[id];
    if (!chosen || !found.includes(chosen)) {
      throw new Error(
        `operationId ${id} names ${found.length} operations (${found.join(', ')}): ` +
          `say which one in AMBIGUOUS_OPERATIONS`,
      );
    }
    wantedOperations.add(chosen);
  }

  const paths: JsonObject = {};
  for (const [template, item] of Object.entries(sourcePaths)) {
    const kept: JsonObject = {};
    let keptOperations = 0;
    for (const [key, value] of Object.entries(item)) {
      if (!HTTP_METHODS.includes(key)) {
        kept[key] = value; // path-level parameters, summary, servers
        continue;
      }
      if (wantedPaths.has(template) || wantedOperations.has(`${key} ${template}`)) {
        kept[key] = value;
        keptOperations++;
      }
    }
    if (keptOperations > 0) {
      paths[template] = kept;
      wantedPaths.delete(template);
    }
  }
  if (wantedPaths.size) throw new Error(`paths not in the source spec: ${[...wantedPaths].join(', ')}`);

  // Every component reachable from the kept operations and the named schemas, found breadth-first.
  const reached = new Map<string, Set<string>>();
  const queue: Json[] = [];
  const reach = (section: string, name: string, from: string) => {
    const target = sourceComponents[section]?.[name];
    if (target === undefined)
      throw new Error(`${from} points at components/${section}/${name}, which the source lacks`);
    let names = reached.get(section);
    if (!names) reached.set(section, (names = new Set()));
    if (names.has(name)) return;
    names.add(name);
    queue.push(target);
  };
  const securityNames = (requirements: Json | undefined) => {
    for (const requirement of Array.isArray(requirements) ? requirements : []) {
      if (isObject(requirement))
        for (const name of Object.keys(requirement)) reach('securitySchemes', name, 'security');
    }
  };
  const walk = (node: Json) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!isObject(node)) return;
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') {
        const component = componentOf(value);
        if (!component) throw new Error(`unsupported $ref ${value}: only refs into #/components are followed`);
        reach(component[0], component[1], value);
      } else if (key === 'mapping' && isObject(value) && isObject(node) && 'propertyName' in node) {
        for (const target of Object.values(value)) {
          const component = typeof target === 'string' ? componentOf(target) : undefined;
          if (component) reach(component[0], component[1], String(target));
        }
      } else {
        walk(value);
      }
    }
  };
  securityNames(source.security);
  for (const item of Object.values(paths)) {
    for (const [key, value] of Object.entries(item as JsonObject)) {
      if (HTTP_METHODS.includes(key) && isObject(value)) securityNames(value.security);
    }
    walk(item);
  }
  for (const name of selection.schemas) reach('schemas', name, 'the stand-in');
  while (queue.length) walk(queue.shift() as Json);

  // Sections and names in the source's order.
  const components: JsonObject = {};
  for (const [section, entries] of Object.entries(sourceComponents)) {
    const names = reached.get(section);
    if (!names || !isObject(entries)) continue;
    components[section] = Object.fromEntries(Object.entries(entries).filter(([name]) => names.has(name)));
  }

  const usedTags = new Set<string>();
  for (const item of Object.values(paths)) {
    for (const [key, value] of Object.entries(item as JsonObject)) {
      if (HTTP_METHODS.includes(key) && isObject(value) && Array.isArray(value.tags))
        value.tags.forEach((t) => usedTags.add(String(t)));
    }
  }
  const trimmed: JsonObject = { openapi: source.openapi, info: source.info };
  if (source.servers !== undefined) trimmed.servers = source.servers;
  if (source.security !== undefined) trimmed.security = source.security;
  if (Array.isArray(source.tags))
    trimmed.tags = source.tags.filter((tag) => isObject(tag) && usedTags.has(String(tag.name)));
  trimmed.paths = paths;
  trimmed.components = components;
  return trimmed;
}

/** Operations (method + path) in a document, as `GET /phone_numbers`. */
export function operationsOf(document: JsonObject): Array<{ method: string; template: string; operationId: string }> {
  const out: Array<{ method: string; template: string; operationId: string }> = [];
  for (const [template, item] of Object.entries(document.paths as Record<string, JsonObject>)) {
    for (const [method, operation] of Object.entries(item)) {
      if (HTTP_METHODS.includes(method) && isObject(operation))
        out.push({ method, template, operationId: String(operation.operationId) });
    }
  }
  return out;
}

/** What the header records about the source; read back by `readTrimmedHeader`. */
export interface TrimmedHeader {
  sourceVersion: string;
  sourceSha256: string;
  generated: string;
}

const DATE_LINE = /^# Generated: .*$/m;

/** The whole file for a source spec's bytes; `generated` is a YYYY-MM-DD date, `sourceArg` the path as typed. */
export function renderTrimmedSpec(
  sourceBytes: Buffer,
  generated: string,
  sourceArg = `<path to ${SOURCE_FILE_NAME}>`,
): string {
  const source = parseYaml(sourceBytes.toString('utf8'), { maxAliasCount: -1 }) as JsonObject;
  const trimmed = trimTelnyxSpec(source);
  const operations = operationsOf(trimmed);
  const componentCount = Object.values(trimmed.components as Record<string, JsonObject>).reduce(
    (n, s) => n + Object.keys(s).length,
    0,
  );
  const sha256 = createHash('sha256').update(sourceBytes).digest('hex');
  const version = String((source.info as JsonObject | undefined)?.version ?? 'unknown');
  const header = [
    '# GENERATED FILE - DO NOT EDIT BY HAND. Regenerate it from the full spec with the command below.',
    '#',
    '# The Telnyx API operations the Telnyx stand-in (sandbox/telnyx) serves, plus the number reservation operations,',
    "# with every component they reference, cut from Telnyx's official OpenAPI spec.",
    `# Source: Telnyx's official OpenAPI spec, ${SOURCE_FILE_NAME}`,
    `# Source info.version: ${version}`,
    `# Source sha256: ${sha256}`,
    `# Generated: ${generated}`,
    `# Command: npx ts-node --transpile-only scripts/trim-telnyx-openapi.ts ${sourceArg}`,
    `# Kept: ${operations.length} operations, ${componentCount} components.`,
    '',
  ].join('\n');
  return header + stringifyYaml(trimmed, { aliasDuplicateObjects: false, lineWidth: 120 });
}

/** The provenance recorded in a trimmed file's header. */
export function readTrimmedHeader(text: string): TrimmedHeader {
  const field = (name: string) => new RegExp(`^# ${name}: (.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  return {
    sourceVersion: field('Source info\\.version'),
    sourceSha256: field('Source sha256'),
    generated: field('Generated'),
  };
}

function today(): string {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  return (epoch ? new Date(Number(epoch) * 1000) : new Date()).toISOString().slice(0, 10);
}

/** Writes the trimmed file; keeps the file (and its date) when nothing but the date would change. */
export function writeTrimmedSpec(sourcePath: string, outFile = TRIMMED_SPEC_FILE): { written: boolean; text: string } {
  const sourceArg = path.relative(REPO_ROOT, path.resolve(sourcePath)).split(path.sep).join('/');
  const text = renderTrimmedSpec(fs.readFileSync(sourcePath), today(), sourceArg);
  if (fs.existsSync(outFile)) {
    const existing = fs.readFileSync(outFile, 'utf8');
    const undated = (t: string) => t.replace(DATE_LINE, '# Generated: -');
    if (undated(existing) === undated(text)) return { written: false, text: existing };
  }
  fs.writeFileSync(outFile, text);
  return { written: true, text };
}

if (require.main === module) {
  const sourcePath = process.argv[2];
  if (!sourcePath || !fs.existsSync(sourcePath)) {
    console.error(`usage: npx ts-node --transpile-only scripts/trim-telnyx-openapi.ts <path-to-${SOURCE_FILE_NAME}>`);
    console.error(sourcePath ? `no such file: ${sourcePath}` : 'the full spec path is required');
    process.exit(2);
  }
  const { written, text } = writeTrimmedSpec(sourcePath);
  const kb = (n: number) => `${Math.round(n / 1024)} KB`;
  const relative = path.relative(REPO_ROOT, TRIMMED_SPEC_FILE);
  console.log(
    `${written ? 'wrote' : 'unchanged:'} ${relative} ` +
      `(${kb(Buffer.byteLength(text))} from ${kb(fs.statSync(sourcePath).size)}; ` +
      `${readTrimmedHeader(text).sourceSha256.slice(0, 12)}…)`,
  );
}
