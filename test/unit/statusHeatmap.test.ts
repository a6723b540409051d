// Where a heatmap page ends and the next one starts, over a table that answers scripted pages.
import type { Catalog, LedgerCellRecord, Page, PageOptions, Stored } from '../../src/azure/catalog';
import { HEATMAP_PAGE_CELLS, parseHeatmapPageKey, readHeatmap } from '../../src/services/statusHeatmap';

const NOW = new Date('2026-12-05T08:00:00Z');

function cell(exportName: string, month: string): Stored<LedgerCellRecord> {
  return {
    partitionKey: 'p1',
    rowKey: `${exportName}|${month}`,
    etag: '*',
    scope: '/subscriptions/s1',
    exportName,
    month,
    state: 'Final',
    reason: 'landed',
    stateSince: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
  } as Stored<LedgerCellRecord>;
}

const cells = (exportName: string, n: number) =>
  Array.from({ length: n }, (_, i) => cell(exportName, `m${i}`));

/** A catalog whose `page` answers the given pages in turn, recording the options it was asked with. */
function scripted(pages: Page<Stored<LedgerCellRecord>>[]) {
  const asked: PageOptions[] = [];
  const catalog = {
    page: (_query: unknown, options: PageOptions = {}) => {
      asked.push(options);
      return Promise.resolve(pages.shift() ?? { items: [] });
    },
  } as unknown as Pick<Catalog, 'page'>;
  return { catalog, asked };
}

describe('readHeatmap pages', () => {
  it('drops the last export when more cells follow, and starts the next page at its first cell', async () => {
    const { catalog } = scripted([
      { items: [...cells('a', HEATMAP_PAGE_CELLS - 2), ...cells('b', 2)], continuationToken: 't1' },
    ]);
    const map = await readHeatmap(catalog, NOW, 13);
    expect(map.rows.map((r) => r.exportName)).toEqual(['a']);
    expect(map.byState.Final).toBe(HEATMAP_PAGE_CELLS - 2);
    expect(parseHeatmapPageKey(map.continuationToken!)).toEqual({ partitionKey: 'p1', rowKey: 'b|m0' });
  });

  it('keeps an export that filled the page and goes on after its cells', async () => {
    const { catalog } = scripted([{ items: cells('a', HEATMAP_PAGE_CELLS), continuationToken: 't1' }]);
    const map = await readHeatmap(catalog, NOW, 13);
    expect(Object.keys(map.rows[0]!.cells)).toHaveLength(HEATMAP_PAGE_CELLS);
    expect(parseHeatmapPageKey(map.continuationToken!)).toEqual({ partitionKey: 'p1', rowKey: 'a}' });
  });

  it('after empty table pages only, hands back where the table stopped, reading at most 10 pages', async () => {
    const { catalog, asked } = scripted(
      Array.from({ length: 12 }, (_, i) => ({ items: [], continuationToken: `t${i + 1}` })),
    );
    const map = await readHeatmap(catalog, NOW, 13);
    expect(asked).toHaveLength(10);
    expect(asked[1]).toMatchObject({ continuationToken: 't1' });
    expect(map.rows).toEqual([]);
    expect(parseHeatmapPageKey(map.continuationToken!)).toEqual({ tableToken: 't10' });
  });

  it('shows every cell and no next page when the table has no more', async () => {
    const { catalog } = scripted([{ items: [cell('a', '2026-10'), cell('b', '2026-10')] }]);
    const map = await readHeatmap(catalog, NOW, 13);
    expect(map.rows.map((r) => r.exportName)).toEqual(['a', 'b']);
    expect(map.continuationToken).toBeUndefined();
  });
});
