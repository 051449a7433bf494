// The admin's one table: a labelled, sideways-scrolling region (TableWrap) around a table with
// `scope="col"` headers and, when there is nothing to show, one row that says so. Every admin
// list (orders, order detail, operations, emails, review, reconciliation) renders through it,
// so the markup that Playwright and screen readers rely on is written once. Server component.
import type { HTMLAttributes, ReactNode } from 'react';
import { Money, TableWrap, formatDateTime, td, th } from '@/components/admin/ui';

/** What a column's cells show: anything (`cell`), or one of the two kinds every admin table has. */
type Content<Row> =
  | { cell: (row: Row) => ReactNode; date?: never; money?: never }
  /** A date and time (UTC), kept on one line; '—' when there is none. */
  | { date: (row: Row) => Date | null | undefined; cell?: never; money?: never }
  /** An amount of money, right-aligned. */
  | { money: (row: Row) => { amount: number; currency: string }; cell?: never; date?: never };

export type Column<Row> = Content<Row> & {
  /** Header cell content (text, or an sr-only span for an action column). */
  header: ReactNode;
  /** Numbers: header and cells right-aligned (money columns always are). */
  align?: 'right';
  /** Extra classes for this column's cells, fixed or per row. */
  className?: string | ((row: Row) => string);
};

/** Attributes a row may carry for tests (data-testid, data-*). */
export type RowAttributes = HTMLAttributes<HTMLTableRowElement> & { [data: `data-${string}`]: string | undefined };

/** Rows with an `id` are keyed by it; others say how. */
type RowKey<Row> = Row extends { id: string } ? { rowKey?: (row: Row) => string } : { rowKey: (row: Row) => string };

export function DataTable<Row>({
  label,
  columns,
  rows,
  rowKey,
  empty,
  emptyClassName,
  testId,
  caption,
  rowAttributes,
  trailingRows,
}: {
  /** The accessible name of the scrolling region. */
  label: string;
  rows: readonly Row[];
  columns: Column<Row>[];
  /** The text of the row shown when `rows` is empty; no such row when omitted. */
  empty?: string;
  /** Extra classes for the empty row's cell. */
  emptyClassName?: string;
  /** The table's data-testid. */
  testId?: string;
  /** A caption (e.g. an sr-only one that says how the rows are filtered and sorted). */
  caption?: ReactNode;
  rowAttributes?: (row: Row) => RowAttributes;
  /** Rows after the data rows, in the same body (e.g. a total). */
  trailingRows?: ReactNode;
} & RowKey<Row>) {
  return (
    <TableWrap label={label}>
      <table className="min-w-full" data-testid={testId}>
        {caption}
        <thead>
          <tr>
            {columns.map((c, i) => (
              <th key={i} scope="col" className={rightAligned(c) ? `${th} text-right` : th}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey ? rowKey(row) : (row as { id: string }).id} {...rowAttributes?.(row)}>
              {columns.map((c, i) => (
                <td key={i} className={cellClass(c, row)}>
                  {cellContent(c, row)}
                </td>
              ))}
            </tr>
          ))}
          {trailingRows}
          {rows.length === 0 && empty !== undefined && (
            <tr>
              <td colSpan={columns.length} className={emptyClassName ? `${td} ${emptyClassName}` : td}>
                {empty}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </TableWrap>
  );
}

function rightAligned<Row>(c: Column<Row>): boolean {
  return c.align === 'right' || c.money !== undefined;
}

function cellClass<Row>(c: Column<Row>, row: Row): string {
  const extra = typeof c.className === 'function' ? c.className(row) : c.className;
  return [td, rightAligned(c) ? 'text-right' : '', c.date ? 'whitespace-nowrap' : '', extra ?? ''].filter(Boolean).join(' ');
}

function cellContent<Row>(c: Column<Row>, row: Row): ReactNode {
  if (c.date) return formatDateTime(c.date(row));
  if (c.money) return <Money {...c.money(row)} />;
  return c.cell(row);
}
