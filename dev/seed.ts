// `npm run dev -- --seed`: fills the Exports emulator with the kind of exports a partner has, so
// every documented flow can be tried locally: export sync finds them at four managed scopes (EA
// enrollment, MCA billing profile, subscription, resource group), SAS and resourceId destinations;
// the SAS token they use is registered with the app and expires in 10 days, so the SAS watch's
// digest reports it and a rotation re-keys the SAS exports. Idempotent: a second run (a restarted
// `--data-dir` stack) leaves existing exports and the registered token alone.
import { readFileSync } from 'node:fs';
import https from 'node:https';

import { AZURITE_ACCOUNT } from './azurite';
import { azuriteAccountSas } from './demo/sas';
import { DEFAULT_SCOPE, EXPORTS_CONTAINER } from './stack';

const MCA_ACCOUNT =
  '/providers/Microsoft.Billing/billingAccounts/7c1a3e2d-4b5f-4e6a-9d8c-1f2e3d4c5b6a:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d_2019-05-31';
const SUBSCRIPTION = '/subscriptions/3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c';

/** The scopes `--seed` creates exports at (and that `npm run dev -- --seed` manages). */
export const SEED_SCOPES = [
  DEFAULT_SCOPE,
  `${MCA_ACCOUNT}/billingProfiles/AB12-CD34-EF5-GH67`,
  SUBSCRIPTION,
  `${SUBSCRIPTION}/resourceGroups/rg-finops`,
] as const;

/** The exports account as Azure names it: resourceId destinations point here. */
const STORAGE_RESOURCE_ID = `${SUBSCRIPTION}/resourceGroups/rg-finops/providers/Microsoft.Storage/storageAccounts/${AZURITE_ACCOUNT}`;
export const SEED_TOKEN_DAYS = 10;

interface SeedExport {
  scope: string;
  name: string;
  dataset: string;
  timeframe: string;
  recurrence: 'Daily' | 'Monthly';
  destination: 'sas' | 'resourceId';
  folder: string;
}

export const SEED_EXPORTS: readonly SeedExport[] = [
  {
    scope: SEED_SCOPES[0],
    name: 'ea-actual-daily',
    dataset: 'ActualCost',
    timeframe: 'MonthToDate',
    recurrence: 'Daily',
    destination: 'sas',
    folder: 'ea',
  },
  {
    scope: SEED_SCOPES[0],
    name: 'ea-focus-monthly',
    dataset: 'FocusCost',
    timeframe: 'TheLastMonth',
    recurrence: 'Monthly',
    destination: 'resourceId',
    folder: 'ea',
  },
  {
    scope: SEED_SCOPES[1],
    name: 'mca-amortized-daily',
    dataset: 'AmortizedCost',
    timeframe: 'MonthToDate',
    recurrence: 'Daily',
    destination: 'sas',
    folder: 'mca',
  },
  {
    scope: SEED_SCOPES[1],
    name: 'mca-pricesheet',
    dataset: 'PriceSheet',
    timeframe: 'TheCurrentMonth',
    recurrence: 'Monthly',
    destination: 'sas',
    folder: 'mca',
  },
  {
    scope: SEED_SCOPES[2],
    name: 'sub-actual-daily',
    dataset: 'ActualCost',
    timeframe: 'MonthToDate',
    recurrence: 'Daily',
    destination: 'resourceId',
    folder: 'sub',
  },
  {
    scope: SEED_SCOPES[3],
    name: 'rg-focus-daily',
    dataset: 'FocusCost',
    timeframe: 'MonthToDate',
    recurrence: 'Daily',
    destination: 'sas',
    folder: 'rg',
  },
];

export interface SeedTarget {
  api: string;
  functionKey: string;
  emulator: string;
  emulatorCa: string;
}

/** Creates the exports that do not exist yet and registers the token; returns how many were created. */
export async function seed(
  target: SeedTarget,
  now = new Date(),
): Promise<{ created: number; tokenRegistered: boolean }> {
  const ca = readFileSync(target.emulatorCa, 'utf8');
  const sasToken = azuriteAccountSas(now, SEED_TOKEN_DAYS);
  let created = 0;
  for (const exp of SEED_EXPORTS) {
    const url = `${target.emulator}${exp.scope}/providers/Microsoft.CostManagement/exports/${exp.name}?api-version=2025-03-01`;
    const existing = await armCall('GET', url, ca);
    if (existing.status === 200) continue;
    const answer = await armCall('PUT', url, ca, exportBody(exp, sasToken, now));
    if (answer.status !== 201 && answer.status !== 200)
      throw new Error(
        `seeding ${exp.scope}/${exp.name}: emulator answered ${answer.status} ${answer.text.slice(0, 300)}`,
      );
    created++;
  }
  const listed = await fetch(`${target.api}/tokens`, { headers: { 'x-functions-key': target.functionKey } });
  const known = listed.ok ? JSON.stringify(await listed.json()) : '';
  if (known.includes(`"${AZURITE_ACCOUNT}"`)) return { created, tokenRegistered: false };
  const registered = await fetch(`${target.api}/tokens`, {
    method: 'POST',
    headers: { 'x-functions-key': target.functionKey, 'Content-Type': 'application/json' },
    body: JSON.stringify({ storageAccount: AZURITE_ACCOUNT, container: EXPORTS_CONTAINER, sasToken }),
  });
  if (!registered.ok)
    throw new Error(`seeding the SAS token: POST /api/tokens answered ${registered.status}`);
  return { created, tokenRegistered: true };
}

function exportBody(exp: SeedExport, sasToken: string, now: Date): unknown {
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
  const to = new Date(Date.UTC(now.getUTCFullYear() + 1, now.getUTCMonth(), 1));
  return {
    identity: { type: 'SystemAssigned' },
    location: 'centralus',
    properties: {
      schedule: {
        status: 'Active',
        recurrence: exp.recurrence,
        recurrencePeriod: { from: from.toISOString(), to: to.toISOString() },
      },
      format: 'Csv',
      deliveryInfo: {
        destination: {
          type: 'AzureBlob',
          container: EXPORTS_CONTAINER,
          rootFolderPath: exp.folder,
          ...(exp.destination === 'sas'
            ? { storageAccount: AZURITE_ACCOUNT, sasToken }
            : { resourceId: STORAGE_RESOURCE_ID }),
        },
      },
      definition: {
        type: exp.dataset,
        timeframe: exp.timeframe,
        dataSet: {
          // Price sheets take no granularity (Cost Management refuses one).
          ...(exp.dataset === 'PriceSheet' ? {} : { granularity: 'Daily' }),
          configuration: { dataVersion: dataVersion(exp.dataset) },
        },
      },
      partitionData: true,
      dataOverwriteBehavior: 'OverwritePreviousReport',
      compressionMode: 'gzip',
      exportDescription: `Seeded by npm run dev -- --seed (${exp.dataset}, ${exp.recurrence})`,
    },
  };
}

function dataVersion(dataset: string): string {
  if (dataset === 'FocusCost') return '1.0';
  if (dataset === 'PriceSheet') return '2023-05-01';
  return '2021-10-01';
}

function armCall(
  method: string,
  url: string,
  ca: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      url,
      {
        method,
        ca,
        headers: {
          Authorization: 'Bearer local-dev-seed',
          ...(data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}
