// What onboarding backfills at a scope: one request per scope, the profile's cost datasets that
// share a format, under the folder the standing exports share.
import { FINOPS_HUBS, FLEXERA_CSP } from '../../src/domain/exportProfile';
import { commonFolder, onboardingBackfill } from '../../src/domain/onboarding';
import { parseScope } from '../../src/domain/scope';

const CUSTOMER = parseScope(
  '/providers/Microsoft.Billing/billingAccounts/6e0c4c1a-7b2d-4f4e-9a52-3c1d2e3f4a5b:0b9c8d7e-6f5a-4b3c-8d2e-1f0a9b8c7d6e_2019-05-31/customers/00000001-0000-4000-8000-000000000001',
);
const context = {
  scope: CUSTOMER,
  assignmentId: 'a-1',
  destination: { storageAccount: 'partnerx01', container: 'flexera' },
  rootFolderTemplate: '{customerId}/{dataset}',
};

describe('onboardingBackfill', () => {
  it('flexera-csp: one request for both cost datasets, CSV 2021-10-01, under the customer folder', () => {
    expect(onboardingBackfill(FLEXERA_CSP, context, 12)).toEqual({
      body: {
        scope: CUSTOMER.canonical,
        datasets: ['ActualCost', 'AmortizedCost'],
        months: 12,
        destination: {
          storageAccount: 'partnerx01',
          container: 'flexera',
          rootFolderPath: '00000001-0000-4000-8000-000000000001',
        },
        format: 'Csv',
        compression: 'none',
        dataVersion: '2021-10-01',
      },
      left: [],
    });
  });

  it('leaves out what has no monthly history, and backfills nothing for 0 months', () => {
    const subscription = {
      ...context,
      scope: parseScope('/subscriptions/6c1f5e0a-8d3b-4f7e-9a21-3b4c5d6e7f80'),
    };
    const hubs = onboardingBackfill(FINOPS_HUBS, subscription, 3);
    expect(hubs.body).toMatchObject({ datasets: ['FocusCost'], format: 'Parquet', compression: 'snappy' });
    expect(onboardingBackfill(FLEXERA_CSP, context, 0).body).toBeUndefined();
  });

  it('commonFolder keeps the leading folders every path shares', () => {
    expect(commonFolder(['a/b/actualcost', 'a/b/amortizedcost'])).toBe('a/b');
    expect(commonFolder(['x/actualcost'])).toBe('x/actualcost');
    expect(commonFolder(['actualcost', 'amortizedcost'])).toBe('');
    expect(commonFolder([])).toBe('');
  });
});
