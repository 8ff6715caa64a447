import type { LineSummary } from '../infra/program';

/** Renders rows as a plain-text table (what the founder reads at the end of a run). */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (c ?? '').padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function ringCell(ring: LineSummary['ring']): string {
  if (!ring) return '-';
  return ring.ok ? `ok ${ring.at ?? ''}`.trim() : `FAILED: ${ring.cause ?? 'unknown'}`;
}

/** The stack's `lines` output as the table the demo and the CLI print (with a Stack column for the fleet's). */
export function renderLines(lines: Array<LineSummary & { stack?: string }>): string {
  const withStack = lines.some((l) => l.stack !== undefined);
  const rows = [...lines]
    .sort((a, b) => a.source.localeCompare(b.source) || a.churchName.localeCompare(b.churchName))
    .map((l) => [
      ...(withStack ? [l.stack ?? '-'] : []),
      l.churchName,
      l.phoneNumber,
      l.trunkId ?? '- (parked)',
      l.dispatchRuleId ?? '-',
      l.row,
      l.source === 'in-service' ? 'in service (adopted)' : l.registryStatus,
      ringCell(l.ring),
    ]);
  return renderTable(
    [
      ...(withStack ? ['Stack'] : []),
      'Church',
      'Number',
      'LiveKit trunk',
      'Dispatch rule',
      'Row',
      'Status',
      'Last test ring',
    ],
    rows,
  );
}
