import {
  appBaseUrl,
  carriesStaleToken,
  composeDigest,
  crossedThreshold,
  currentToken,
  daysLeft,
  digestSubject,
  failingExportFinding,
  failureKey,
  normalizeThresholds,
  recoveredKeys,
  rotateCommand,
  sasFailure,
  staleExportFinding,
  type TokenAlert,
  tokenAlert,
  type TokenAlertState,
  type TokenDigestItem,
} from '../../src/domain/alertPolicy';

const THRESHOLDS = [30, 14, 7, 3, 1, 0];
const NOW = new Date('2025-07-10T06:00:00Z');
const DAY = 86_400_000;
const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs).toISOString();

function token(overrides: Partial<TokenAlertState> = {}): TokenAlertState {
  return {
    storageAccount: 'acct1',
    tokenId: 't1',
    expiresOn: at(100 * DAY),
    status: 'active',
    ...overrides,
  };
}

describe('normalizeThresholds', () => {
  it('dedupes and sorts largest first', () => {
    expect(normalizeThresholds([0, 7, 30, 7, 1])).toEqual([30, 7, 1, 0]);
  });
  it.each([[[]], [[-1]], [[1.5]], [[1000]], [[Number.NaN]]])('refuses %p naming the field', (list) => {
    expect(() => normalizeThresholds(list)).toThrow(/thresholdsDays/);
  });
});

describe('daysLeft and crossedThreshold', () => {
  it.each([
    [at(30 * DAY), 30],
    [at(30 * DAY - 1), 29],
    [at(DAY - 1), 0],
    [at(1), 0],
    [at(0), 0],
    [at(-1), -1],
    [at(-3 * DAY), -3],
  ])('expiresOn %s → %d days left', (expiresOn, days) => {
    expect(daysLeft(expiresOn, NOW)).toBe(days);
  });
  it.each([
    [31, undefined],
    [30, 30],
    [15, 30],
    [14, 14],
    [8, 14],
    [7, 7],
    [3, 3],
    [2, 3],
    [1, 1],
    [0, 0],
    [-2, 0],
  ])('%d days left crosses %p', (days, threshold) => {
    expect(crossedThreshold(days, THRESHOLDS)).toBe(threshold);
  });
  it('refuses an unreadable date naming it', () => {
    expect(() => daysLeft('soon', NOW)).toThrow(/expiresOn/);
  });
});

describe('tokenAlert', () => {
  const cases: [string, Partial<TokenAlertState>, Partial<TokenAlert> | undefined][] = [
    ['far from expiry: nothing', { expiresOn: at(45 * DAY) }, undefined],
    ['first threshold', { expiresOn: at(30 * DAY) }, { kind: 'expiring', thresholdDays: 30, daysLeft: 30 }],
    [
      'already alerted at 30, still above 14: nothing',
      { expiresOn: at(20 * DAY), lastAlertThresholdDays: 30, lastAlertAt: at(-10 * DAY) },
      undefined,
    ],
    [
      'crossed 14 after 30',
      { expiresOn: at(14 * DAY + 3600_000), lastAlertThresholdDays: 30, lastAlertAt: at(-16 * DAY) },
      { kind: 'expiring', thresholdDays: 14, recordThresholdDays: 14 },
    ],
    [
      'registered late: one alert for the smallest threshold reached',
      { expiresOn: at(2 * DAY) },
      { kind: 'expiring', thresholdDays: 3, daysLeft: 2 },
    ],
    [
      'alerted at 3, now 2 days left: nothing',
      { expiresOn: at(2 * DAY), lastAlertThresholdDays: 3, lastAlertAt: at(-DAY) },
      undefined,
    ],
    [
      'less than a day left',
      { expiresOn: at(3600_000), lastAlertThresholdDays: 1, lastAlertAt: at(-DAY) },
      { kind: 'expiring', thresholdDays: 0, daysLeft: 0 },
    ],
    ['expired, never alerted', { expiresOn: at(-3600_000) }, { kind: 'expired', daysLeft: -1 }],
    [
      'expired, alerted at 0 before it expired, same day: alerts (new state)',
      { expiresOn: at(-3600_000), lastAlertThresholdDays: 0, lastAlertAt: at(-5 * 3600_000) },
      { kind: 'expired' },
    ],
    [
      'expired, already alerted today after expiry: nothing',
      { expiresOn: at(-2 * DAY), lastAlertThresholdDays: 0, lastAlertAt: at(-3600_000) },
      undefined,
    ],
    [
      'expired, alerted yesterday: alerts again (daily)',
      { expiresOn: at(-2 * DAY), lastAlertThresholdDays: 0, lastAlertAt: at(-DAY) },
      { kind: 'expired', recordThresholdDays: 0 },
    ],
    ['expired exactly now', { expiresOn: at(0) }, { kind: 'expired', daysLeft: 0 }],
    ['status expired is still watched', { status: 'expired', expiresOn: at(-DAY) }, { kind: 'expired' }],
    ['rotated tokens are done with', { status: 'rotated', expiresOn: at(-DAY) }, undefined],
    ['revoked tokens are done with', { status: 'revoked', expiresOn: at(DAY) }, undefined],
    [
      'a rotation after the last alert starts over',
      {
        expiresOn: at(25 * DAY),
        lastAlertThresholdDays: 0,
        lastAlertAt: at(-40 * DAY),
        rotatedAt: at(-5 * DAY),
      },
      { kind: 'expiring', thresholdDays: 30 },
    ],
    [
      'a rotation before the last alert changes nothing',
      {
        expiresOn: at(25 * DAY),
        lastAlertThresholdDays: 30,
        lastAlertAt: at(-2 * DAY),
        rotatedAt: at(-5 * DAY),
      },
      undefined,
    ],
  ];
  it.each(cases)('%s', (_name, overrides, expected) => {
    const result = tokenAlert(token(overrides), NOW, THRESHOLDS);
    if (expected === undefined) expect(result).toBeUndefined();
    else expect(result).toMatchObject(expected);
  });

  it('records the smallest configured threshold for an expired token', () => {
    expect(tokenAlert(token({ expiresOn: at(-DAY) }), NOW, [30, 7])).toMatchObject({
      kind: 'expired',
      recordThresholdDays: 7,
    });
  });

  it('walks a token through its whole life once per threshold (simulated daily watch)', () => {
    let state = token({ expiresOn: at(40 * DAY) });
    const alerts: string[] = [];
    for (let day = 0; day < 45; day++) {
      const now = new Date(NOW.getTime() + day * DAY);
      const alert = tokenAlert(state, now, THRESHOLDS);
      if (!alert) continue;
      alerts.push(alert.kind === 'expired' ? `expired@${day}` : `${alert.thresholdDays}@${day}`);
      state = { ...state, lastAlertThresholdDays: alert.recordThresholdDays, lastAlertAt: now.toISOString() };
    }
    expect(alerts).toEqual([
      '30@10',
      '14@26',
      '7@33',
      '3@37',
      '1@39',
      'expired@40',
      'expired@41',
      'expired@42',
      'expired@43',
      'expired@44',
    ]);
  });
});

describe('sasFailure', () => {
  it.each([
    [
      'Failed',
      'AuthorizationResourceTypeMismatch: This request is not authorized',
      'AuthorizationResourceTypeMismatch',
    ],
    ['Failed', 'Storage said AuthorizationPermissionMismatch', 'AuthorizationPermissionMismatch'],
    ['Failed', 'The SAS token provided has expired', 'SAS token'],
    ['Failed', 'Server failed to authenticate the request. AuthenticationFailed', 'AuthenticationFailed'],
    ['Failed', 'HTTP 403 from the destination', '403 Forbidden'],
    ['Timeout', 'Forbidden', '403 Forbidden'],
    ['Failed', 'Internal error', undefined],
    ['Completed', 'AuthorizationPermissionMismatch', undefined],
    ['InProgress', '403', undefined],
  ])('%s with "%s" → %p', (status, error, label) => {
    expect(sasFailure({ status, error, at: NOW.toISOString() })).toBe(label);
  });
  it('needs an error text', () => {
    expect(sasFailure({ status: 'Failed', at: NOW.toISOString() })).toBeUndefined();
    expect(sasFailure(undefined)).toBeUndefined();
  });
  it('keys a failure by run id and time', () => {
    expect(failureKey({ runId: 'r1', status: 'Failed', at: 'x' })).toBe('r1@x');
    expect(failureKey({ status: 'Failed', at: 'x' })).toBe('@x');
  });
});

describe('currentToken and carriesStaleToken', () => {
  const t = (tokenId: string, extra: Record<string, string> = {}) => ({
    tokenId,
    status: 'active',
    fingerprint: `fp-${tokenId}`,
    expiresOn: '2025-12-31T00:00:00Z',
    ...extra,
  });
  it('prefers the latest rotation, then start, then expiry, among active tokens', () => {
    expect(currentToken([t('a'), t('b', { rotatedAt: '2025-07-01T00:00:00Z' })])?.tokenId).toBe('b');
    expect(
      currentToken([
        t('a', { startsOn: '2025-07-02T00:00:00Z' }),
        t('b', { startsOn: '2025-07-01T00:00:00Z' }),
      ])?.tokenId,
    ).toBe('a');
    expect(currentToken([t('a'), t('b', { expiresOn: '2026-01-31T00:00:00Z' })])?.tokenId).toBe('b');
    expect(
      currentToken([t('a', { status: 'rotated', rotatedAt: '2025-08-01T00:00:00Z' }), t('b')])?.tokenId,
    ).toBe('b');
  });
  it('falls back to an expired token, and to nothing', () => {
    expect(currentToken([t('a', { status: 'expired' }), t('b', { status: 'revoked' })])?.tokenId).toBe('a');
    expect(currentToken([])).toBeUndefined();
  });
  it.each([
    [{ sasDelivered: true, tokenRef: 'old' }, true],
    [{ sasDelivered: true, tokenRef: 'cur' }, false],
    [{ sasDelivered: true, tokenRef: 'cur', tokenFingerprint: 'fp-old' }, true],
    [{ sasDelivered: true, tokenRef: 'old', tokenFingerprint: 'fp-cur' }, false],
    [{ sasDelivered: false, tokenRef: 'old' }, false],
    [{ sasDelivered: true }, false],
  ])('%p stale: %p', (view, stale) => {
    expect(carriesStaleToken(view, { tokenId: 'cur', fingerprint: 'fp-cur' })).toBe(stale);
  });
  it('nothing is stale without a current token', () => {
    expect(carriesStaleToken({ sasDelivered: true, tokenRef: 'x' }, undefined)).toBe(false);
  });
});

describe('export findings', () => {
  const ref = { scope: 's', exportName: 'e', storageAccount: 'acct1' };
  const failed = {
    runId: 'r1',
    status: 'Failed',
    at: 'x',
    error: 'AuthorizationPermissionMismatch on https://a.blob.core.windows.net/c?sv=1&sig=SECRET',
  };
  it('reports a SAS failure once, keyed by its run, with the error redacted', () => {
    const finding = failingExportFinding(ref, failed, undefined);
    expect(finding?.stateValue).toBe('r1@x');
    expect(finding?.item).toMatchObject({
      ...ref,
      reason: 'AuthorizationPermissionMismatch',
      status: 'Failed',
    });
    expect(finding?.item?.error).not.toContain('SECRET');
    expect(failingExportFinding(ref, failed, 'r1@x')).toEqual({ stateValue: 'r1@x' });
    expect(failingExportFinding(ref, { ...failed, status: 'Completed' }, undefined)).toBeUndefined();
  });
  it('reports a stale token once per current token', () => {
    const current = { tokenId: 'cur', fingerprint: 'fp-cur' };
    const view = { sasDelivered: true, tokenRef: 'old' };
    expect(staleExportFinding(ref, view, current, undefined)).toEqual({
      stateValue: 'cur',
      item: { ...ref, carriedTokenId: 'old', currentTokenId: 'cur' },
    });
    expect(staleExportFinding(ref, view, current, 'cur')).toEqual({ stateValue: 'cur' });
    expect(staleExportFinding(ref, view, current, 'older')?.item).toBeDefined();
    expect(staleExportFinding(ref, { ...view, tokenRef: 'cur' }, current, undefined)).toBeUndefined();
    expect(staleExportFinding(ref, view, undefined, undefined)).toBeUndefined();
  });
  it('names the reported keys this run did not see again', () => {
    const reported = new Map([
      ['a', '1'],
      ['b', '2'],
    ]);
    expect(recoveredKeys(reported, new Set(['b', 'c']))).toEqual(['a']);
  });
});

describe('digest', () => {
  const expiring = (account: string, days: number): TokenDigestItem => ({
    alert: {
      kind: 'expiring',
      storageAccount: account,
      tokenId: `${account}-t`,
      expiresOn: at(days * DAY + 60_000),
      daysLeft: days,
      thresholdDays: days,
      recordThresholdDays: days,
    },
    exports: [
      { scope: '/subscriptions/00000000-0000-0000-0000-000000000001', exportName: `${account}-daily` },
    ],
    exportCount: 3,
  });
  const expired = (account: string): TokenDigestItem => ({
    alert: {
      kind: 'expired',
      storageAccount: account,
      tokenId: `${account}-t`,
      expiresOn: at(-DAY),
      daysLeft: -1,
      recordThresholdDays: 0,
    },
    exports: [],
    exportCount: 0,
  });

  it.each([
    [
      { tokens: [expired('a'), expired('b'), expiring('c', 7)], failing: [], stale: [] },
      /^EXPIRED: 2 SAS tokens, 1 more expiring/,
    ],
    [
      { tokens: [expiring('a', 7), expiring('b', 3), expiring('c', 14)], failing: [], stale: [] },
      /^3 days left: 3 SAS tokens expiring/,
    ],
    [{ tokens: [expiring('a', 1)], failing: [], stale: [] }, /^1 day left: 1 SAS token expiring/],
    [{ tokens: [expiring('a', 0)], failing: [], stale: [] }, /^Less than 1 day left/],
    [
      {
        tokens: [],
        failing: [
          { scope: '/s', exportName: 'e', storageAccount: 'a', reason: 'x', status: 'Failed', at: 'x' },
        ],
        stale: [],
      },
      /^1 export failing on authorization/,
    ],
    [{ tokens: [], failing: [], stale: [] }, /nothing to report/],
  ])('subject names the worst state first (%#)', (input, subject) => {
    expect(digestSubject(input)).toMatch(subject);
  });

  it('composes text and HTML with the rotate call per account, escaped', () => {
    const digest = composeDigest({
      now: NOW,
      tokens: [expiring('acct2', 7), expired('acct1')],
      failing: [
        {
          scope: '/subscriptions/00000000-0000-0000-0000-000000000001',
          exportName: 'evil<script>',
          storageAccount: 'acct3',
          reason: 'AuthorizationPermissionMismatch',
          status: 'Failed',
          at: '2025-07-09T00:00:00Z',
          error:
            'denied for https://acct3.blob.core.windows.net/c?sv=2024-01-01&sig=SECRETSIGNATURE123456%3D',
        },
      ],
      stale: [
        {
          scope: '/subscriptions/00000000-0000-0000-0000-000000000001',
          exportName: 'old-one',
          storageAccount: 'acct1',
          carriedTokenId: 'acct1-old',
          currentTokenId: 'acct1-t',
        },
      ],
      appBaseUrl: 'https://func-cea.azurewebsites.net',
    });
    expect(digest.subject).toMatch(
      /^EXPIRED: 1 SAS token, 1 more expiring, 1 export failing on authorization, 1 export on a replaced token/,
    );
    // Worst first.
    expect(digest.text.indexOf('acct1 / token acct1-t: EXPIRED')).toBeLessThan(
      digest.text.indexOf('acct2 / token'),
    );
    expect(digest.text).toContain('7 days left (threshold 7 days)');
    expect(digest.text).toContain('… and 2 more');
    for (const account of ['acct1', 'acct2', 'acct3']) {
      const command = rotateCommand('https://func-cea.azurewebsites.net', account);
      expect(digest.text).toContain(command);
      expect(digest.html).toContain(
        command.replace(/"/g, '&#34;').replace(/'/g, '&#39;').replace(/</g, '&#60;').replace(/>/g, '&#62;'),
      );
    }
    expect(digest.html).toContain('evil&#60;script&#62;');
    expect(digest.html).not.toContain('<script>');
    for (const body of [digest.text, digest.html]) expect(body).not.toContain('SECRETSIGNATURE');
  });

  it('lists at most maxItemsPerSection and counts the rest', () => {
    const digest = composeDigest({
      now: NOW,
      tokens: Array.from({ length: 5 }, (_, i) => expiring(`acct${i}`, 14)),
      failing: [],
      stale: [],
      totals: { tokens: 500 },
      appBaseUrl: 'https://x',
      maxItemsPerSection: 2,
    });
    expect(digest.text.match(/\/ token/g)).toHaveLength(2);
    expect(digest.text).toContain('… and 498 more');
    // Rotate calls only for the accounts listed, and at most maxItemsPerSection of them.
    expect(digest.text.match(/curl -X POST/g)).toHaveLength(2);
    expect(digest.subject).toMatch(/500 SAS tokens expiring/);
  });

  it('builds the rotate call and the base URL', () => {
    expect(rotateCommand('https://h/', 'acct')).toBe(
      `curl -X POST "https://h/api/tokens/acct/rotate" -H "x-functions-key: <FUNCTION_KEY>" -H "Content-Type: application/json" -d '{"sasToken":"<NEW_SAS_TOKEN>"}'`,
    );
    expect(appBaseUrl('func.azurewebsites.net')).toBe('https://func.azurewebsites.net');
    expect(appBaseUrl('http://127.0.0.1:7071/')).toBe('http://127.0.0.1:7071');
    expect(appBaseUrl(undefined)).toMatch(/<your-function-app>/);
    expect(appBaseUrl('0.0.0.0')).toMatch(/<your-function-app>/);
  });
});
