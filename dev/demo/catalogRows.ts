// The demo table's rows: each month's outcome with what the landing catalog recorded for its run,
// read through the app's own catalog adapter (its file rows; the landing row's totals when it has none).
import { Catalog } from '../../src/azure/catalog';
import { tableClientFactory } from '../../src/azure/storageClients';
import type { AppConfig } from '../../src/config';
import type { MonthOutcomeView } from './backfillStatus';
import type { MonthRow } from './table';

export async function catalogRows(
  months: readonly MonthOutcomeView[],
  config: AppConfig,
): Promise<MonthRow[]> {
  const catalog = new Catalog({ tableClient: tableClientFactory(config.storage.catalog) });
  return Promise.all(
    months.map(async (m): Promise<MonthRow> => {
      const row: MonthRow = {
        month: m.month,
        dataset: m.dataset,
        outcome: m.outcome,
        attempts: m.attempts,
        ...(m.error ? { error: m.error } : {}),
      };
      if (!m.runId || !m.landingKey) return row;
      const landing = await catalog.get('landings', m.landingKey);
      if (!landing) return row;
      let files = 0;
      let rows = 0;
      let bytes = 0;
      for await (const file of catalog.landingFilesOf(m.landingKey.partitionKey, landing.period, m.runId)) {
        files++;
        rows += file.rows;
        bytes += file.bytes;
      }
      if (files === 0) {
        return { ...row, files: landing.blobCount, rows: landing.rowCount, bytes: landing.totalBytes };
      }
      return files > 0 || m.outcome === 'Completed' ? { ...row, files, rows, bytes } : row;
    }),
  );
}
