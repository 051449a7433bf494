// The admin's one table: a labelled, sideways-scrolling region (TableWrap) around a table with
// `scope="col"` headers and, when there is nothing to show, one row that says so. Every admin
// list (orders, order detail, operations, emails, review, reconciliation) renders through it,
// so the markup that Playwright and screen readers rely on is written once. Server component.
import type { HTMLAttributes, ReactNode } from 'react';
import { TableWrap, td, th } from '@/components/admin/ui';

export interface Column<Row> {
  /** Header cell content (text, or an sr-only span for an action column). */
  header: ReactNode;
  /** Numbers and money: header and cells right-aligned. */
  align?: 'right';
  /** Extra classes for this column's cells, fixed or per row. */
  className?: string | ((row: Row) => string);
  cell: (row: Row) => ReactNode;
}

/** Attributes a row may carry for tests (data-testid, data-*). */
export type RowAttributes = HTMLAttributes<HTMLTableRowElement> & { [data: `data-${string}`]: string | undefined };

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
  columns: Column<Row>[];
  rows: readonly Row[];
  rowKey: (row: Row) => string;
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
}) {
  return (
    <TableWrap label={label}>
      <table className="min-w-full" data-testid={testId}>
        {caption}
        <thead>
          <tr>
            {columns.map((c, i) => (
              <th key={i} scope="col" className={c.align === 'right' ? `${th} text-right` : th}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)} {...rowAttributes?.(row)}>
              {columns.map((c, i) => (
                <td key={i} className={cellClass(c, row)}>
                  {c.cell(row)}
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

function cellClass<Row>(c: Column<Row>, row: Row): string {
  const extra = typeof c.className === 'function' ? c.className(row) : c.className;
  return [td, c.align === 'right' ? 'text-right' : '', extra ?? ''].filter(Boolean).join(' ');
}
