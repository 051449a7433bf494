// The admin's shared table, rendered as the server renders it: the accessible region name,
// column headers, alignment, test ids and the empty row the Playwright specs rely on.
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { DataTable, type Column } from '@/components/admin/DataTable';
import { td, th } from '@/components/admin/ui';

type Row = { id: string; n: number };
const columns: Column<Row>[] = [
  { header: 'Id', className: 'font-mono', cell: (r) => r.id },
  { header: 'Count', align: 'right', className: (r) => (r.n > 1 ? 'font-semibold' : ''), cell: (r) => r.n },
  { header: <span className="sr-only">Act</span>, cell: () => 'x' },
];

describe('DataTable', () => {
  it('renders a labelled region, column headers and one row per item', () => {
    const html = renderToStaticMarkup(
      <DataTable label="Things" testId="things" columns={columns} rows={[{ id: 'a', n: 1 }, { id: 'b', n: 2 }]} rowAttributes={(r) => ({ 'data-testid': 'thing', 'data-id': r.id })} empty="None." />,
    );
    expect(html).toMatch(/^<div[^>]* role="region" aria-label="Things" tabindex="0">/);
    expect(html).toContain('<table class="min-w-full" data-testid="things">');
    expect(html).toContain(`<th scope="col" class="${th}">Id</th>`);
    expect(html).toContain(`<th scope="col" class="${th} text-right">Count</th>`);
    expect(html).toContain(`<th scope="col" class="${th}"><span class="sr-only">Act</span></th>`);
    expect(html).toContain(`<tr data-testid="thing" data-id="b"><td class="${td} font-mono">b</td><td class="${td} text-right font-semibold">2</td>`);
    expect(html).toContain(`<td class="${td} text-right">1</td>`);
    expect(html).not.toContain('None.');
  });

  it('says so in one full-width row when there are no rows, and only when asked to', () => {
    const html = renderToStaticMarkup(<DataTable label="Things" columns={columns} rows={[] as Row[]} rowKey={(r) => r.id} empty="None." emptyClassName="text-center" />);
    expect(html).toContain(`<tr><td colSpan="3" class="${td} text-center">None.</td></tr>`);
    expect(html).not.toContain('data-testid');
    expect(renderToStaticMarkup(<DataTable label="Things" columns={columns} rows={[] as Row[]} rowKey={(r) => r.id} />)).toContain('<tbody></tbody>');
  });

  it('writes dates on one line and money right-aligned', () => {
    const html = renderToStaticMarkup(
      <DataTable
        label="T"
        columns={[{ header: 'When', date: (r: { at: Date | null }) => r.at }, { header: 'Paid', money: () => ({ amount: 1250, currency: 'usd' }) }]}
        rows={[{ at: new Date('2026-01-02T03:04:05Z') }, { at: null }]}
        rowKey={(r: { at: Date | null }) => String(r.at)}
      />,
    );
    expect(html).toContain(`<th scope="col" class="${th} text-right">Paid</th>`);
    expect(html).toContain(`<td class="${td} whitespace-nowrap">2026-01-02 03:04:05 UTC</td><td class="${td} text-right"><span class="tabular-nums">$12.50</span></td>`);
    expect(html).toContain(`<td class="${td} whitespace-nowrap">—</td>`);
  });

  it('keys rows by their id unless told, and must be told when rows have none', () => {
    const rows = [{ n: 1 }];
    const cols: Column<{ n: number }>[] = [{ header: 'N', cell: (r) => r.n }];
    expect(renderToStaticMarkup(<DataTable label="T" columns={cols} rows={rows} rowKey={(r) => String(r.n)} />)).toContain('>1</td>');
    // A type check only (not rendered): rows without an id must say how they are keyed.
    // @ts-expect-error: no rowKey for rows without an id
    const unkeyed = () => <DataTable label="T" columns={cols} rows={rows} />;
    expect(unkeyed).toBeTypeOf('function');
  });

  it('puts trailing rows after the data and a caption first', () => {
    const html = renderToStaticMarkup(
      <DataTable label="T" caption={<caption>Cap</caption>} columns={columns} rows={[{ id: 'a', n: 1 }]} rowKey={(r) => r.id} trailingRows={<tr><td>Total</td></tr>} />,
    );
    expect(html).toContain('<table class="min-w-full"><caption>Cap</caption><thead>');
    expect(html).toMatch(/<td[^>]*>x<\/td><\/tr><tr><td>Total<\/td><\/tr><\/tbody>/);
  });
});
