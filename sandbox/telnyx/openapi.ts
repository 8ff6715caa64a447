/**
 * Telnyx's published OpenAPI 3.1 document as the judge of every request our code sends and every response the
 * stand-in returns. The 4 MB YAML takes over a second to parse, so a JSON copy keyed by the YAML's hash is kept
 * under .sandbox/cache and the parsed document and compiled validators live once per process.
 */
import Ajv2020 from 'ajv/dist/2020';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT, SANDBOX_DIR } from '../processes';

/** The spec ships in shared/ beside the repo (CI lays a copy there too); TELNYX_OPENAPI_SPEC moves it. */
export function telnyxSpecPath(): string {
  return process.env.TELNYX_OPENAPI_SPEC ?? path.resolve(REPO_ROOT, '..', 'shared', 'reference', 'telnyx-openapi-spec3.yml');
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface OpenApiParameter {
  name: string;
  in: 'query' | 'path' | 'header' | 'cookie';
  required?: boolean;
  style?: string;
  schema?: JsonObject;
}

interface OpenApiOperation {
  operationId: string;
  parameters?: JsonObject[];
  requestBody?: JsonObject;
  responses?: Record<string, JsonObject>;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: Record<string, Record<string, JsonObject>>;
}

/** One operation of the spec matched against a concrete request path. */
export interface TelnyxOperationMatch {
  operationId: string;
  method: string;
  /** The spec's path template, e.g. `/phone_numbers/{id}` (relative to the server URL `.../v2`). */
  template: string;
  pathParams: Record<string, string>;
}

const SPEC_ID = 'telnyx-openapi';
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

let specDocument: OpenApiDocument | undefined;

function readSpecFile(): OpenApiDocument {
  const file = telnyxSpecPath();
  if (!fs.existsSync(file)) {
    throw new Error(
      `Telnyx OpenAPI spec not found at ${file}: it ships as shared/reference/telnyx-openapi-spec3.yml beside the repo; ` +
        'set TELNYX_OPENAPI_SPEC to its path if it lives elsewhere',
    );
  }
  const yamlText = fs.readFileSync(file);
  const hash = createHash('sha256').update(yamlText).digest('hex').slice(0, 16);
  const cacheFile = path.join(SANDBOX_DIR, 'cache', `telnyx-openapi-${hash}.json`);
  if (fs.existsSync(cacheFile)) {
    try {
      return JSON.parse(fs.readFileSync(cacheFile, 'utf8')) as OpenApiDocument;
    } catch {
      // A torn or foreign cache file: fall through and rebuild it from the YAML.
    }
  }
  const document = parseYaml(yamlText.toString('utf8'), { maxAliasCount: -1 }) as OpenApiDocument;
  // Written to a private name then renamed, so parallel test workers never read half a file. The cache only saves
  // time: where it cannot be written, the parsed document is used all the same.
  const partial = `${cacheFile}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
    fs.writeFileSync(partial, JSON.stringify(document));
    fs.renameSync(partial, cacheFile);
  } catch {
    fs.rmSync(partial, { force: true });
  }
  return document;
}

/** The parsed spec, loaded once per process. */
export function loadTelnyxSpec(): OpenApiDocument {
  specDocument ??= readSpecFile();
  return specDocument;
}

function newAjv(coerceTypes: boolean): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: true, logger: false, coerceTypes });
  addFormats(ajv);
  // Formats the spec uses that are not JSON Schema formats: `integer` marks digit strings, media names mark files.
  ajv.addFormat('integer', /^-?\d+$/);
  for (const media of ['mp3', 'mp4', 'wav']) ajv.addFormat(media, true);
  // The whole document is one schema resource so `#/components/...` refs resolve; it is not itself a JSON Schema,
  // hence no meta-schema check.
  ajv.addSchema({ $id: SPEC_ID, ...(loadTelnyxSpec() as unknown as JsonObject) }, undefined, undefined, false);
  return ajv;
}

let strictAjv: Ajv2020 | undefined;
let coercingAjv: Ajv2020 | undefined;
const validators = new Map<string, ValidateFunction>();

function compiled(key: string, schema: () => JsonObject, coerce = false): ValidateFunction {
  const cacheKey = `${coerce ? 'coerce' : 'strict'}:${key}`;
  let validate = validators.get(cacheKey);
  if (!validate) {
    const ajv = coerce ? (coercingAjv ??= newAjv(true)) : (strictAjv ??= newAjv(false));
    validate = ajv.compile(schema());
    validators.set(cacheKey, validate);
  }
  return validate;
}

function pointerEscape(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** A `$ref` into the spec resource, for a JSON pointer given as segments. */
function specRef(...segments: string[]): JsonObject {
  return { $ref: `${SPEC_ID}#/${segments.map(pointerEscape).join('/')}` };
}

/** Follows `$ref`s between components (parameters, responses, request bodies); returns the target and its pointer. */
function deref(node: JsonObject, pointer: string[]): { node: JsonObject; pointer: string[] } {
  let current = { node, pointer };
  for (let hops = 0; typeof current.node.$ref === 'string' && hops < 20; hops++) {
    const ref = current.node.$ref as string;
    if (!ref.startsWith('#/')) throw new Error(`unsupported $ref ${ref}: only refs inside the spec are resolved`);
    const segments = ref
      .slice(2)
      .split('/')
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    let target: Json = loadTelnyxSpec() as unknown as Json;
    for (const segment of segments) {
      target = (target as JsonObject | undefined)?.[segment] as Json;
    }
    if (!target || typeof target !== 'object') throw new Error(`unresolvable $ref ${ref} in the Telnyx spec`);
    current = { node: target as JsonObject, pointer: segments };
  }
  return current;
}

interface CompiledPath {
  template: string;
  pattern: RegExp;
  paramNames: string[];
  literalSegments: number;
}

let compiledPaths: CompiledPath[] | undefined;

function pathTable(): CompiledPath[] {
  if (compiledPaths) return compiledPaths;
  compiledPaths = Object.keys(loadTelnyxSpec().paths).map((template) => {
    const paramNames: string[] = [];
    const segments = template.split('/').filter(Boolean);
    const source = segments
      .map((segment) =>
        segment.replace(/\{([^}]+)\}|([^{]+)/g, (_m, name: string | undefined, literal: string | undefined) => {
          if (name) {
            paramNames.push(name);
            return '([^/]+)';
          }
          return (literal ?? '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        }),
      )
      .join('/');
    return {
      template,
      pattern: new RegExp(`^/${source}/?$`),
      paramNames,
      literalSegments: segments.filter((s) => !s.includes('{')).length,
    };
  });
  // `/phone_numbers/jobs` must win over `/phone_numbers/{id}`: more literal segments first.
  compiledPaths.sort((a, b) => b.literalSegments - a.literalSegments);
  return compiledPaths;
}

/** Strips the query and the `/v2` base path: the spec's paths are relative to `https://api.telnyx.com/v2`. */
export function apiPath(requestPath: string): string {
  const withoutQuery = requestPath.split('?')[0];
  return withoutQuery.replace(/^\/v2(?=\/|$)/, '') || '/';
}

/** The spec operation serving `method` on a concrete path (with or without `/v2`), or undefined. */
export function findTelnyxOperation(method: string, requestPath: string): TelnyxOperationMatch | undefined {
  const lower = method.toLowerCase();
  const concrete = apiPath(requestPath);
  for (const entry of pathTable()) {
    const found = entry.pattern.exec(concrete);
    if (!found) continue;
    const operation = loadTelnyxSpec().paths[entry.template][lower];
    if (!operation || !HTTP_METHODS.includes(lower)) continue;
    const pathParams: Record<string, string> = {};
    entry.paramNames.forEach((name, i) => (pathParams[name] = decodeURIComponent(found[i + 1])));
    return { operationId: operation.operationId, method: lower, template: entry.template, pathParams };
  }
  return undefined;
}

/** Whether the spec has a path template for this concrete path under any method (to tell 404 from 405/501). */
export function telnyxPathExists(requestPath: string): boolean {
  const concrete = apiPath(requestPath);
  return pathTable().some((entry) => entry.pattern.test(concrete));
}

/** One way a body or query breaks the spec. */
export interface SpecViolation {
  /** JSON pointer into the body (`/phone_numbers/0/phone_number`), or the query parameter (`filter[limit]`). */
  field: string;
  /** The rule broken, e.g. `must be string`. */
  rule: string;
  /** Readable one-liner: `request body /phone_numbers/0/phone_number: must be string`. */
  text: string;
}

/** `/filter/features/0` -> `filter[features][0]`, the way the parameter is written on the wire. */
function queryField(instancePath: string): string {
  const [head, ...rest] = instancePath.split('/').filter(Boolean);
  return head ? `${head}${rest.map((s) => `[${s}]`).join('')}` : '(query)';
}

function violations(errors: ErrorObject[] | null | undefined, where: string, field: (instancePath: string) => string): SpecViolation[] {
  return (errors ?? []).map((error) => {
    const params = error.params as Record<string, unknown>;
    let rule: string;
    let at = field(error.instancePath);
    switch (error.keyword) {
      case 'required':
        // Name the missing field itself, not its parent.
        at = field(`${error.instancePath}/${String(params.missingProperty)}`);
        rule = 'is required';
        break;
      case 'enum':
        rule = `must be one of ${JSON.stringify(params.allowedValues)}`;
        break;
      case 'additionalProperties':
        at = field(`${error.instancePath}/${String(params.additionalProperty)}`);
        rule = 'is not a known property';
        break;
      default:
        rule = error.message ?? error.keyword;
    }
    return { field: at, rule, text: `${where} ${at}: ${rule}` };
  });
}

const bodyField = (instancePath: string) => instancePath || '/';
const texts = (list: SpecViolation[]) => list.map((v) => v.text);

function operationOf(match: TelnyxOperationMatch): OpenApiOperation {
  return loadTelnyxSpec().paths[match.template][match.method];
}

function responseFor(match: TelnyxOperationMatch, status: number): { response: JsonObject; pointer: string[] } | undefined {
  const responses = operationOf(match).responses ?? {};
  const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => responses[k]);
  if (!key) return undefined;
  const { node, pointer } = deref(responses[key], ['paths', match.template, match.method, 'responses', key]);
  return { response: node, pointer };
}

/** Statuses the spec declares for the operation (exact codes, `4XX`-style ranges and `default`). */
export function declaresStatus(method: string, requestPath: string, status: number): boolean {
  const match = findTelnyxOperation(method, requestPath);
  return !!match && !!responseFor(match, status);
}

/**
 * Checks a response body against the spec for (method, concrete path, status).
 * Returns readable errors; empty when the body matches.
 */
export function validateTelnyxResponse(method: string, requestPath: string, status: number, body: unknown): string[] {
  const match = findTelnyxOperation(method, requestPath);
  if (!match) return [`no operation in the Telnyx spec for ${method.toUpperCase()} ${apiPath(requestPath)}`];
  const found = responseFor(match, status);
  if (!found) return [`status ${status} is not declared for ${match.operationId} (${method.toUpperCase()} ${match.template})`];
  const content = found.response.content as JsonObject | undefined;
  const media = content?.['application/json'] as JsonObject | undefined;
  if (!media?.schema) {
    return body === undefined || body === null || body === '' ? [] : [`${match.operationId} ${status} declares no JSON body`];
  }
  const validate = compiled(`response:${found.pointer.join('/')}`, () => specRef(...found.pointer, 'content', 'application/json', 'schema'));
  return validate(body) ? [] : texts(violations(validate.errors, 'response body', bodyField));
}

/**
 * The ways a request body breaks the operation's JSON request body schema. A missing body where the spec requires
 * one is a violation; a body for an operation that takes none is ignored (clients send `{}` freely).
 */
export function requestBodyViolations(method: string, requestPath: string, body: unknown): SpecViolation[] {
  const match = findTelnyxOperation(method, requestPath);
  const violation = (field: string, rule: string) => [{ field, rule, text: `request body ${field}: ${rule}` }];
  if (!match) return violation('/', `no operation in the Telnyx spec for ${method.toUpperCase()} ${apiPath(requestPath)}`);
  const requestBody = operationOf(match).requestBody;
  if (!requestBody) return [];
  const { node, pointer } = deref(requestBody, ['paths', match.template, match.method, 'requestBody']);
  if (body === undefined || body === null || body === '') {
    return node.required ? violation('/', `is required by ${match.operationId} (send at least {})`) : [];
  }
  const content = node.content as JsonObject | undefined;
  if (!content?.['application/json']) return violation('/', `${match.operationId} takes no JSON body`);
  const validate = compiled(`request:${pointer.join('/')}`, () => specRef(...pointer, 'content', 'application/json', 'schema'));
  return validate(body) ? [] : violations(validate.errors, 'request body', bodyField);
}

/** Checks a request body against the spec; returns readable errors, empty when it matches. */
export function validateTelnyxRequest(method: string, requestPath: string, body: unknown): string[] {
  return texts(requestBodyViolations(method, requestPath, body));
}

/** Query parameters parsed the way Telnyx reads them: deepObject brackets, comma-joined arrays, typed by the spec. */
export interface ParsedTelnyxQuery {
  /** e.g. `{ filter: { features: ['voice', 'sms'], limit: 5 }, page: { number: 2 } }` */
  query: Record<string, unknown>;
  violations: SpecViolation[];
}

/** `filter[phone_number][starts_with]=1` -> `{ filter: { phone_number: { starts_with: '1' } } }` */
function nestBrackets(search: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of search) {
    const head = key.split('[')[0];
    const rest = [...key.slice(head.length).matchAll(/\[([^\]]*)\]/g)].map((m) => m[1]);
    const keys = [head, ...rest];
    let node = out;
    keys.forEach((k, i) => {
      if (i === keys.length - 1) node[k] = value;
      else {
        if (typeof node[k] !== 'object' || node[k] === null) node[k] = {};
        node = node[k] as Record<string, unknown>;
      }
    });
  }
  return out;
}

function schemaTypes(schema: JsonObject): string[] {
  const type = schema.type;
  return Array.isArray(type) ? (type as string[]) : typeof type === 'string' ? [type] : [];
}

/** Splits comma-joined strings where the spec wants an array (the SDK's `arrayFormat: 'comma'`). */
function splitCommaArrays(value: unknown, schemaNode: JsonObject, pointer: string[]): unknown {
  const { node: schema } = deref(schemaNode, pointer);
  if (typeof value === 'string') {
    const types = schemaTypes(schema);
    const alternatives = ((schema.oneOf ?? schema.anyOf) as JsonObject[] | undefined) ?? [];
    const acceptsString = types.includes('string') || alternatives.some((alt) => schemaTypes(deref(alt, []).node).includes('string'));
    return types.includes('array') && !acceptsString ? value.split(',') : value;
  }
  if (value && typeof value === 'object' && !Array.isArray(value) && schema.properties) {
    const properties = schema.properties as Record<string, JsonObject>;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = properties[key] ? splitCommaArrays(item, properties[key], []) : item;
    }
    return out;
  }
  return value;
}

/** Parses and checks the query string against the operation's query parameters; unknown parameters pass through. */
export function parseTelnyxQuery(method: string, requestPath: string, search: string): ParsedTelnyxQuery {
  const raw = nestBrackets(new URLSearchParams(search.replace(/^\?/, '')));
  const match = findTelnyxOperation(method, requestPath);
  if (!match) return { query: raw, violations: [] };
  const parameters = (operationOf(match).parameters ?? []).map((p, i) => {
    const resolved = deref(p, ['paths', match.template, match.method, 'parameters', String(i)]);
    return { parameter: resolved.node as unknown as OpenApiParameter, pointer: resolved.pointer };
  });
  const queryParameters = parameters.filter(({ parameter }) => parameter.in === 'query' && parameter.schema);
  const query: Record<string, unknown> = { ...raw };
  for (const { parameter } of queryParameters) {
    if (query[parameter.name] !== undefined) {
      query[parameter.name] = splitCommaArrays(query[parameter.name], parameter.schema as JsonObject, []);
    }
  }
  const validate = compiled(
    `query:${match.operationId}`,
    () => ({
      type: 'object',
      properties: Object.fromEntries(queryParameters.map(({ parameter, pointer }) => [parameter.name, specRef(...pointer, 'schema')])),
      required: queryParameters.filter(({ parameter }) => parameter.required).map(({ parameter }) => parameter.name),
    }),
    true,
  );
  // The coercing validator turns "5" into 5 and "true" into true in place, so handlers get typed values.
  const valid = validate(query);
  return { query, violations: valid ? [] : violations(validate.errors, 'query', queryField) };
}

/** Checks a body against a named component schema, e.g. `CallHangupEvent` for a webhook the stand-in sends. */
export function validateTelnyxSchema(schemaName: string, body: unknown): string[] {
  if (!loadTelnyxSpec().components.schemas?.[schemaName]) return [`no schema ${schemaName} in the Telnyx spec`];
  const validate = compiled(`schema:${schemaName}`, () => specRef('components', 'schemas', schemaName));
  return validate(body) ? [] : texts(violations(validate.errors, schemaName, bodyField));
}

/**
 * Checks the error envelope Telnyx's gateway returns on any route (401, 429, 5xx) when the operation itself
 * does not declare that status: `{errors:[{code, title, detail, source?, meta?}]}` as in `numbers_Errors`.
 */
export function validateTelnyxErrorEnvelope(body: unknown): string[] {
  const validate = compiled('error-envelope', () => ({
    allOf: [
      specRef('components', 'schemas', 'numbers_Errors'),
      {
        type: 'object',
        required: ['errors'],
        properties: { errors: { type: 'array', minItems: 1, items: { type: 'object', required: ['code', 'title'] } } },
      },
    ],
  }));
  return validate(body) ? [] : texts(violations(validate.errors, 'error body', bodyField));
}
