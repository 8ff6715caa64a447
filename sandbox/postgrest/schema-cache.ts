/**
 * What PostgREST calls its schema cache: the tables of the `public` schema, their columns and primary keys.
 * Only names found here ever reach SQL (as quoted identifiers). Reloaded when a request names a table or
 * column it does not know, so a migration applied while the server runs is picked up without a restart.
 */
import type { Pool } from 'pg';
import { unknownColumnError, unknownTableError } from './errors';

export interface TableInfo {
  name: string;
  /** Column names in table order. */
  columns: string[];
  primaryKey: string[];
}

export class SchemaCache {
  private tables = new Map<string, TableInfo>();
  private loading?: Promise<void>;

  constructor(private readonly pool: Pool) {}

  async reload(): Promise<void> {
    // Concurrent misses share one reload.
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async load(): Promise<void> {
    const { rows } = await this.pool.query<{ table_name: string; columns: string[]; primary_key: string[] | null }>(`
      select c.relname as table_name,
             array_agg(a.attname::text order by a.attnum) as columns,
             (select array_agg(k.attname::text order by array_position(i.indkey::int2[], k.attnum))
                from pg_index i
                join pg_attribute k on k.attrelid = i.indrelid and k.attnum = any(i.indkey)
               where i.indrelid = c.oid and i.indisprimary) as primary_key
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
       where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f')
       group by c.oid, c.relname`);
    this.tables = new Map(
      rows.map((row) => [
        row.table_name,
        { name: row.table_name, columns: row.columns, primaryKey: row.primary_key ?? [] },
      ]),
    );
  }

  /** The table, or PGRST205 (404) naming it, with a suggestion when a known table is a near miss. */
  async table(name: string): Promise<TableInfo> {
    let info = this.tables.get(name);
    if (!info) {
      await this.reload();
      info = this.tables.get(name);
    }
    if (!info) throw unknownTableError(name, this.closestTable(name));
    return info;
  }

  /** Checks columns a request writes (PGRST204 for an unknown one, as PostgREST does). */
  async requireColumns(table: TableInfo, columns: string[]): Promise<TableInfo> {
    let current = table;
    let missing = columns.find((column) => !current.columns.includes(column));
    if (missing !== undefined) {
      await this.reload();
      current = this.tables.get(table.name) ?? current;
      missing = columns.find((column) => !current.columns.includes(column));
    }
    if (missing !== undefined) throw unknownColumnError(table.name, missing);
    return current;
  }

  private closestTable(name: string): string | undefined {
    const lower = name.toLowerCase();
    return [...this.tables.keys()].find(
      (known) => known.toLowerCase() === lower || known.startsWith(lower) || lower.startsWith(known),
    );
  }
}
