import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  backfillCommand,
  exportProblem,
  overallStatus,
  ProblemList,
  reconcileCommand,
  tokenProblem,
} from '../../src/domain/statusProblems';

const BASE = 'https://func-cea.azurewebsites.net';
const NOW = new Date('2026-12-04T12:00:00Z');
const SCOPE = '/providers/Microsoft.Billing/billingAccounts/1234567';

describe('overallStatus', () => {
  it('is ok only when every total is zero', () => {
    expect(overallStatus({})).toBe('ok');
    expect(overallStatus({ scopeAccess: 0, monthFailed: 0 })).toBe('ok');
    expect(overallStatus({ scopeAccess: 0, monthStale: 1 })).toBe('degraded');
  });

  it('counts problems past the listing limit', () => {
    const list = new ProblemList(1);
    for (const subject of ['a', 'b', 'c']) list.add({ kind: 'monthStale', subject, message: '', fix: '' });
    expect(list.listed.map((p) => p.subject)).toEqual(['a']);
    expect(list.totals.monthStale).toBe(3);
    expect(list.omitted).toBe(2);
    expect(overallStatus(list.totals)).toBe('degraded');
  });
});

describe('reconcileCommand', () => {
  it('passes the key in a header, never in the URL', () => {
    const command = reconcileCommand(`${BASE}/`, "a'1");
    expect(command).toMatch(/^curl -X POST "https:\/\/func-cea\.azurewebsites\.net\/api\/fleet\/reconcile" /);
    expect(command).not.toMatch(/[?&]code=/);
    expect(command).toContain('x-functions-key: <FUNCTION_KEY>');
    expect(command).toContain(`{"assignmentId":"a'\\''1"}`);
  });
});

describe('fix hints in the source', () => {
  it('never put a key in a URL (`?code=`)', () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/[?&]code=/.test(readFileSync(path, 'utf8'))) offenders.push(path);
      }
    };
    walk(join(__dirname, '../../src'));
    expect(offenders).toEqual([]);
  });
});

describe('backfillCommand', () => {
  it('is a shell-safe request the backfill endpoint takes, with placeholders when no destination is known', () => {
    const command = backfillCommand(`${BASE}/`, {
      scope: SCOPE,
      dataset: 'ActualCost',
      from: '2026-09',
      to: '2026-09',
    });
    expect(command).toMatch(/^curl -X POST "https:\/\/func-cea\.azurewebsites\.net\/api\/backfills" /);
    expect(command).toContain('x-functions-key: <FUNCTION_KEY>');
    const body = JSON.parse(/-d '(.*)'$/.exec(command)![1]!);
    expect(body).toEqual({
      scope: SCOPE,
      datasets: ['ActualCost'],
      from: '2026-09',
      to: '2026-09',
      destination: { storageAccount: '<STORAGE_ACCOUNT>', container: '<CONTAINER>' },
      force: true,
    });
  });

  it('names a managed-identity destination by its resource id, with no token', () => {
    const resourceId =
      '/subscriptions/00000000-0000-0000-0000-0000000000ab/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct';
    const command = backfillCommand(BASE, {
      scope: SCOPE,
      dataset: 'ActualCost',
      from: '2026-09',
      to: '2026-09',
      destination: { storageAccount: 'acct', container: 'c', resourceId },
    });
    expect(JSON.parse(/-d '(.*)'$/.exec(command)![1]!).destination).toEqual({ resourceId, container: 'c' });
  });

  it("closes and reopens the shell quote around a ' in a folder name", () => {
    const command = backfillCommand(BASE, {
      scope: SCOPE,
      dataset: 'ActualCost',
      from: '2026-09',
      to: '2026-09',
      destination: { storageAccount: 'acct', container: 'c', rootFolderPath: "o'brien" },
    });
    expect(command).toContain(`"rootFolderPath":"o'\\''brien"`);
  });
});

describe('exportProblem', () => {
  const exportFacts = {
    scope: SCOPE,
    exportName: 'daily',
    dataset: 'ActualCost',
    sasDelivered: true,
    storageAccount: 'partnerexports',
    container: 'msexports',
    rootFolderPath: '',
    missing: false,
  };

  it('sends a SAS failure to the rotate command and any other failure to a backfill', () => {
    const sas = exportProblem(
      {
        ...exportFacts,
        lastRun: {
          status: 'Failed',
          at: '2026-12-03T06:00:00Z',
          error: 'code: AuthorizationResourceTypeMismatch',
        },
      },
      BASE,
      NOW,
    );
    expect(sas).toMatchObject({ kind: 'exportFailing', subject: `${SCOPE} · daily` });
    expect(sas!.fix).toContain('/api/tokens/partnerexports/rotate');
    const other = exportProblem(
      { ...exportFacts, lastRun: { status: 'Timeout', at: '2026-11-30T23:00:00Z' } },
      BASE,
      NOW,
    );
    expect(other!.fix).toContain('"from":"2026-11","to":"2026-11"');
  });

  it('says nothing about a run that completed', () => {
    expect(
      exportProblem(
        { ...exportFacts, lastRun: { status: 'Completed', at: '2026-12-03T06:00:00Z' } },
        BASE,
        NOW,
      ),
    ).toBeUndefined();
  });
});

describe('tokenProblem', () => {
  const t = (expiresOn: string) => ({ storageAccount: 'acct', tokenId: 't1', expiresOn });

  it('reports inside the alert window and after expiry, not before', () => {
    expect(tokenProblem(t('2027-02-01T00:00:00Z'), 30, BASE, NOW, 2)).toBeUndefined();
    expect(tokenProblem(t('2026-12-08T13:00:00Z'), 30, BASE, NOW, 2)).toMatchObject({
      kind: 'tokenExpiring',
    });
    expect(tokenProblem(t('2026-12-04T11:00:00Z'), 30, BASE, NOW, 2)).toMatchObject({ kind: 'tokenExpired' });
    expect(tokenProblem(t('not a date'), 30, BASE, NOW, 2)).toMatchObject({ kind: 'tokenExpired' });
  });
});
