/**
 * The part of PostgREST's URL grammar supabase-js uses for one table, parsed into a small syntax tree, and the
 * SQL built from it. Identifiers only ever reach SQL through pg's escapeIdentifier and every value is a bind
 * parameter, so nothing a client sends is spliced into a statement.
 *
 * Supported: select=*|col|alias:col (comma list), filters col=[not.]op.value with op in eq neq gt gte lt lte
 * like ilike match imatch in is isdistinct, order=col[.asc|.desc][.nullsfirst|.nullslast],... , limit, offset,
 * on_conflict, columns. Not supported (answered with PGRST100 naming it): embedded resources, casts, JSON paths,
 * or=/and= logic trees, full-text and range/array operators.
 */
import { escapeIdentifier } from 'pg';
import { parseError } from './errors';

export interface SelectItem {
  /** `*` or a column name. */
  column: string;
  alias?: string;
}

export const FILTER_OPERATORS = {
  eq: '=',
  neq: '<>',
  gt: '>',
  gte: '>=',
  lt: '<',
  lte: '<=',
  like: 'like',
  ilike: 'ilike',
  match: '~',
  imatch: '~*',
  in: 'in',
  is: 'is',
  isdistinct: 'is distinct from',
} as const;

export type FilterOperator = keyof typeof FILTER_OPERATORS;

const IS_VALUES = { null: 'null', not_null: 'not null', true: 'true', false: 'false', unknown: 'unknown' } as const;

export interface Filter {
  column: string;
  operator: FilterOperator;
  negated: boolean;
  /** A list for `in`, a keyword of IS_VALUES for `is`, else the raw value. */
  value: string | string[];
}

export interface OrderTerm {
  column: string;
  descending: boolean;
  nulls?: 'first' | 'last';
}

export interface ParsedQuery {
  select: SelectItem[];
  filters: Filter[];
  order: OrderTerm[];
  limit?: number;
  offset?: number;
  onConflict?: string[];
  columns?: string[];
}

/** Query parameters that are not filters. `apikey` is accepted (and never echoed) because clients may send it. */
const RESERVED_PARAMS = new Set(['select', 'order', 'limit', 'offset', 'on_conflict', 'columns', 'apikey']);

/**
 * Splits a comma list at top level, honouring double quotes (with `\"` and `""` escapes) and parentheses.
 * Returns the raw pieces; quotes are kept so the caller knows what was quoted.
 */
export function splitTopLevel(text: string, separator = ','): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      current += c;
      if (c === '\\' && i + 1 < text.length) current += text[++i];
      else if (c === '"') quoted = false;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    if (c === separator && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  if (quoted) throw parseError(`unterminated double quote in "${text}"`);
  parts.push(current);
  return parts;
}

/** `"a \"b\""` -> `a "b"`; an unquoted token is returned as is. */
function unquote(token: string): string {
  if (token.length >= 2 && token.startsWith('"') && token.endsWith('"')) {
    return token.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return token;
}

/** A column name from the URL: plain or double-quoted; relation paths, casts and JSON paths are refused. */
function columnName(token: string, where: string): string {
  const trimmed = token.trim();
  if (trimmed === '') throw parseError(`empty column name in ${where}`);
  if (trimmed.startsWith('"')) {
    const name = unquote(trimmed);
    if (name === '' || !trimmed.endsWith('"')) throw parseError(`malformed quoted column ${trimmed} in ${where}`);
    return name;
  }
  if (/[()]/.test(trimmed)) {
    throw parseError(`embedded resources are not supported by this PostgREST subset (in ${where}: ${trimmed})`);
  }
  if (trimmed.includes('::'))
    throw parseError(`casts are not supported by this PostgREST subset (in ${where}: ${trimmed})`);
  if (trimmed.includes('->'))
    throw parseError(`JSON paths are not supported by this PostgREST subset (in ${where}: ${trimmed})`);
  if (trimmed.includes('.')) {
    throw parseError(`related-table columns are not supported by this PostgREST subset (in ${where}: ${trimmed})`);
  }
  return trimmed;
}

export function parseSelect(value: string | null): SelectItem[] {
  if (value === null || value === '' || value === '*') return [{ column: '*' }];
  return splitTopLevel(value).map((raw) => {
    const item = raw.trim();
    if (item === '*') return { column: '*' };
    // alias:column — the first top-level ':' that is not part of '::'.
    const match = /^("(?:[^"\\]|\\.)*"|[^":]+):(?!:)(.+)$/.exec(item);
    if (match) return { alias: columnName(match[1], 'select'), column: columnName(match[2], 'select') };
    return { column: columnName(item, 'select') };
  });
}

/** `(a,b,"c,d")` -> ['a','b','c,d']. */
export function parseInList(raw: string): string[] {
  if (!raw.startsWith('(') || !raw.endsWith(')')) {
    throw parseError(
      `failed to parse filter (in.${raw})`,
      'the value of in must be a parenthesised list, e.g. in.(a,b)',
    );
  }
  const inner = raw.slice(1, -1);
  if (inner.trim() === '') return [];
  return splitTopLevel(inner).map((item) => unquote(item.trim()));
}

export function parseFilter(column: string, raw: string): Filter {
  const name = columnName(column, `filter ${column}`);
  let rest = raw;
  let negated = false;
  if (rest.startsWith('not.')) {
    negated = true;
    rest = rest.slice(4);
  }
  const dot = rest.indexOf('.');
  const operator = (dot < 0 ? rest : rest.slice(0, dot)) as FilterOperator;
  if (dot < 0 || !Object.prototype.hasOwnProperty.call(FILTER_OPERATORS, operator)) {
    throw parseError(
      `failed to parse filter (${raw}) on column ${name}`,
      `expected [not.]<operator>.<value> with operator one of ${Object.keys(FILTER_OPERATORS).join(', ')}`,
    );
  }
  const operand = rest.slice(dot + 1);
  if (operator === 'in') return { column: name, operator, negated, value: parseInList(operand) };
  if (operator === 'is') {
    if (!Object.prototype.hasOwnProperty.call(IS_VALUES, operand.toLowerCase())) {
      throw parseError(
        `failed to parse filter (${raw}) on column ${name}`,
        `is takes one of ${Object.keys(IS_VALUES).join(', ')}`,
      );
    }
    return { column: name, operator, negated, value: operand.toLowerCase() };
  }
  return { column: name, operator, negated, value: operand };
}

export function parseOrder(value: string): OrderTerm[] {
  return splitTopLevel(value).map((raw) => {
    const parts = raw.trim().split('.');
    // A quoted column may itself contain dots: re-join everything before the modifiers.
    const modifiers: string[] = [];
    while (parts.length > 1 && /^(asc|desc|nullsfirst|nullslast)$/.test(parts[parts.length - 1])) {
      modifiers.unshift(parts.pop()!);
    }
    const column = columnName(parts.join('.'), 'order');
    const term: OrderTerm = { column, descending: false };
    for (const modifier of modifiers) {
      if (modifier === 'desc') term.descending = true;
      else if (modifier === 'nullsfirst') term.nulls = 'first';
      else if (modifier === 'nullslast') term.nulls = 'last';
    }
    return term;
  });
}

function nonNegativeInteger(name: string, value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw parseError(`${name} must be a non-negative integer, got "${value}"`);
  return Number(value);
}

export function parseQuery(search: URLSearchParams): ParsedQuery {
  const query: ParsedQuery = { select: parseSelect(search.get('select')), filters: [], order: [] };
  for (const [key, value] of search) {
    if (key === 'or' || key === 'and' || key.endsWith('.or') || key.endsWith('.and')) {
      throw parseError(`${key}= logic trees are not supported by this PostgREST subset: use one filter per column`);
    }
    if (/\.(order|limit|offset)$/.test(key)) {
      throw parseError(`${key}: embedded resources are not supported by this PostgREST subset`);
    }
    if (RESERVED_PARAMS.has(key)) continue;
    query.filters.push(parseFilter(key, value));
  }
  const order = search.get('order');
  if (order) query.order = parseOrder(order);
  const limit = search.get('limit');
  if (limit !== null) query.limit = nonNegativeInteger('limit', limit);
  const offset = search.get('offset');
  if (offset !== null) query.offset = nonNegativeInteger('offset', offset);
  const onConflict = search.get('on_conflict');
  if (onConflict !== null) query.onConflict = splitTopLevel(onConflict).map((c) => columnName(c, 'on_conflict'));
  const columns = search.get('columns');
  if (columns !== null) query.columns = splitTopLevel(columns).map((c) => columnName(c, 'columns'));
  return query;
}

/** Collects bind parameters while a statement is built. */
export class Params {
  readonly values: unknown[] = [];

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

export const ident = escapeIdentifier;

/** `"public"."<table>"` */
export function tableRef(table: string): string {
  return `${ident('public')}.${ident(table)}`;
}

/** PostgREST's like/ilike use `*` as the wildcard (a `%` in a URL is awkward); both are accepted. */
function likePattern(value: string): string {
  return value.replace(/\*/g, '%');
}

export function filterSql(relation: string, filter: Filter, params: Params): string {
  const column = `${relation}.${ident(filter.column)}`;
  let expression: string;
  switch (filter.operator) {
    case 'in':
      expression = `${column} = any(${params.add(filter.value)})`;
      break;
    case 'is':
      expression = `${column} is ${IS_VALUES[filter.value as keyof typeof IS_VALUES]}`;
      break;
    case 'like':
    case 'ilike':
      expression = `${column} ${FILTER_OPERATORS[filter.operator]} ${params.add(likePattern(filter.value as string))}`;
      break;
    default:
      expression = `${column} ${FILTER_OPERATORS[filter.operator]} ${params.add(filter.value)}`;
  }
  return filter.negated ? `not (${expression})` : expression;
}

export function whereSql(relation: string, filters: Filter[], params: Params): string {
  return filters.length ? ` where ${filters.map((f) => filterSql(relation, f, params)).join(' and ')}` : '';
}

export function orderSql(relation: string, order: OrderTerm[]): string {
  if (!order.length) return '';
  const terms = order.map(
    (term) =>
      `${relation}.${ident(term.column)} ${term.descending ? 'desc' : 'asc'}` +
      (term.nulls ? ` nulls ${term.nulls}` : ''),
  );
  return ` order by ${terms.join(', ')}`;
}

export function selectListSql(relation: string, select: SelectItem[]): string {
  return select
    .map((item) =>
      item.column === '*'
        ? `${relation}.*`
        : `${relation}.${ident(item.column)} as ${ident(item.alias ?? item.column)}`,
    )
    .join(', ');
}

/**
 * Wraps a row source into the one-row answer PostgREST builds: the number of rows and the JSON array text
 * (built by PostgreSQL, so numbers, timestamps and json columns come out exactly as PostgREST would print them),
 * plus the total count when `totalSql` is given.
 */
export function jsonBodySql(source: string, stripNulls: boolean, totalSql?: string): string {
  const array = `coalesce(json_agg(pgrst_row), '[]'::json)`;
  const body = stripNulls ? `json_strip_nulls(${array})` : array;
  const total = totalSql ? `, ${totalSql} as total` : '';
  return `select count(*)::int as row_count, ${body}::text as body${total} from (${source}) pgrst_row`;
}
