// Column sets of the datasets the emulator writes, in the order of Microsoft's published schemas:
// FOCUS 1.0 / 1.0r2 (96 columns, as in a real Azure FOCUS 1.0 Parquet file) and 1.2-preview
// (105 columns, Microsoft Learn "FOCUS cost and usage details file schema"); ActualCost /
// AmortizedCost 2021-10-01 with EA PascalCase (55) or MCA camelCase (65) headers; a small
// PriceSheet. Reservation datasets are not emulated.
import type { Archetype } from './catalog';
import { addDays } from './format';
import { createRandom } from './prng';
import type { Agreement, ChargeRecord, Population, PriceRecord, Resource } from './rows';

export type CellKind = 'string' | 'decimal' | 'datetime' | 'boolean';
export type Cell = string | number | boolean | Date | null;

export interface Column<R> {
  name: string;
  kind: CellKind;
  value: (record: R, population: Population) => Cell;
}

/** How dates are written in CSV: FOCUS 1.0 `2024-01-01T00:00Z`, FOCUS 1.0r2+ `2024-01-01T00:00:00Z`,
 * actual/amortized `01/01/2024`. */
export type DateStyle = 'isoMinutes' | 'isoSeconds' | 'usDate';

export interface DatasetSchema<R = ChargeRecord> {
  type: string;
  dataVersion: string;
  columns: readonly Column<R>[];
  dateStyle: DateStyle;
  /** `True`/`False` (cost details) or `true`/`false` (FOCUS). */
  booleanStyle: 'title' | 'lower';
  /** Actual cost shows reservation purchases and bills covered usage at 0; amortized spreads them. */
  costView: 'actual' | 'amortized' | 'both';
}

export class UnsupportedDatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedDatasetError';
  }
}

/** The dataVersion a run uses when the export names none (FinOps toolkit defaults, 2024). */
export const DEFAULT_DATA_VERSIONS: Readonly<Record<string, string>> = {
  FocusCost: '1.2-preview',
  ActualCost: '2021-10-01',
  AmortizedCost: '2021-10-01',
  Usage: '2021-10-01',
  PriceSheet: '2023-05-01',
  ReservationDetails: '2023-03-01',
  ReservationTransactions: '2023-05-01',
  ReservationRecommendations: '2023-05-01',
};

// ---- shared derivations -------------------------------------------------------------------

const isPurchase = (r: ChargeRecord): boolean => r.category === 'Purchase';

function productName(a: Archetype, meterRegion: string): string {
  return (
    [a.meterCategory, a.meterSubCategory].filter(Boolean).join(' ') + ` - ${a.meterName} - ${meterRegion}`
  );
}

/** Per-resource text that every row of the resource repeats, computed once (a month of rows
 * would otherwise rebuild the same strings thousands of times). */
interface ResourceText {
  description: string;
  reservationProduct: string;
  reservationResourceId: string;
  resourceIdLower: string;
  reservationResourceIdLower: string;
  armTypeLower: string;
  tagsJson: string;
  skuDetailsJson: string;
  productOrderId: string;
  skuPriceId: string;
}

const resourceTexts = new WeakMap<Resource, ResourceText>();

function text(res: Resource, p: Population): ResourceText {
  let t = resourceTexts.get(res);
  if (!t) {
    const a = res.archetype;
    const rv = res.reservation;
    const reservationId = rv
      ? `/providers/Microsoft.Capacity/reservationOrders/${rv.orderId}/reservations/${rv.id}`
      : '';
    const sku = a.skuDetails?.['ServiceType'] ?? a.meterName;
    t = {
      description: productName(a, res.region.meterRegion),
      reservationProduct: `Reserved VM Instance, ${String(sku)}, ${res.region.meterRegion}, 1 Year`,
      reservationResourceId: reservationId,
      resourceIdLower: res.resourceId.toLowerCase(),
      reservationResourceIdLower: reservationId.toLowerCase(),
      armTypeLower: a.armType.toLowerCase(),
      tagsJson: JSON.stringify(res.tags),
      skuDetailsJson: a.skuDetails ? JSON.stringify(a.skuDetails) : '',
      productOrderId: p.billing.agreement === 'MCA' ? createRandom('order', res.subscription.id).guid() : '',
      skuPriceId: `${res.productId}/${a.key === 'vm' ? '00TG' : '0001'}/${res.region.id}`,
    };
    resourceTexts.set(res, t);
  }
  return t;
}

function description(r: ChargeRecord, p: Population): string {
  const t = text(r.resource, p);
  return isPurchase(r) ? t.reservationProduct : t.description;
}

function cost(r: ChargeRecord, view: 'actual' | 'amortized'): number {
  return view === 'actual' ? r.billedCost : r.effectiveCost;
}

function unitPrice(r: ChargeRecord, view: 'actual' | 'amortized'): number {
  return view === 'actual' ? r.billedUnitPrice : r.effectiveUnitPrice;
}

/** Inclusive last day of the billing period (cost details files) from FOCUS's exclusive end. */
const inclusiveEnd = (d: Date): Date => addDays(d, -1);

// ---- FOCUS ----------------------------------------------------------------------------------

type Spec = [CellKind, (r: ChargeRecord, p: Population) => Cell];

const str = (fn: (r: ChargeRecord, p: Population) => string | null): Spec => ['string', fn];
const dec = (fn: (r: ChargeRecord, p: Population) => number | null): Spec => ['decimal', fn];
const date = (fn: (r: ChargeRecord, p: Population) => Date | null): Spec => ['datetime', fn];
const NONE = str(() => null);

const FOCUS_SPECS: Record<string, Spec> = {
  BilledCost: dec((r) => r.billedCost),
  BillingAccountId: str((_r, p) =>
    p.billing.agreement === 'EA'
      ? `/providers/Microsoft.Billing/billingAccounts/${p.billing.billingAccountId}`
      : `/providers/Microsoft.Billing/billingAccounts/${p.billing.billingAccountId}/billingProfiles/${p.billing.billingProfileId}`,
  ),
  BillingAccountName: str((_r, p) =>
    p.billing.agreement === 'EA' ? p.billing.billingAccountName : p.billing.billingProfileName,
  ),
  BillingAccountType: str((_r, p) => (p.billing.agreement === 'EA' ? 'Billing Account' : 'Billing Profile')),
  BillingCurrency: str((_r, p) => p.billing.currency),
  BillingPeriodEnd: date((r) => r.billingPeriodEnd),
  BillingPeriodStart: date((r) => r.billingPeriodStart),
  CapacityReservationId: NONE,
  CapacityReservationStatus: NONE,
  ChargeCategory: str((r) => r.category),
  ChargeClass: NONE,
  ChargeDescription: str((r, p) => description(r, p)),
  ChargeFrequency: str((r) => (isPurchase(r) ? 'Recurring' : 'Usage-Based')),
  ChargePeriodEnd: date((r) => r.chargePeriodEnd),
  ChargePeriodStart: date((r) => r.chargePeriodStart),
  CommitmentDiscountCategory: str((r) => (r.committed ? 'Usage' : null)),
  CommitmentDiscountId: str((r, p) => (r.committed ? text(r.resource, p).reservationResourceIdLower : null)),
  CommitmentDiscountName: str((r) => (r.committed ? (r.resource.reservation?.name ?? null) : null)),
  CommitmentDiscountQuantity: NONE,
  CommitmentDiscountStatus: str((r) => (r.committed && !isPurchase(r) ? 'Used' : null)),
  CommitmentDiscountType: str((r) => (r.committed ? 'Reservation' : null)),
  CommitmentDiscountUnit: NONE,
  ConsumedQuantity: dec((r) => (isPurchase(r) ? null : r.consumedQuantity)),
  ConsumedUnit: str((r) => (isPurchase(r) ? null : r.resource.archetype.consumedUnit)),
  ContractedCost: dec((r) => r.contractedCost),
  ContractedUnitPrice: dec((r) => r.contractedUnitPrice),
  EffectiveCost: dec((r) => r.effectiveCost),
  InvoiceId: NONE,
  InvoiceIssuerName: str(() => 'Microsoft'),
  ListCost: dec((r) => r.listCost),
  ListUnitPrice: dec((r) => r.listUnitPrice),
  PricingCategory: str((r) => (r.committed && !isPurchase(r) ? 'Committed' : 'Standard')),
  PricingCurrency: str((_r, p) => p.billing.currency),
  PricingQuantity: dec((r) => r.pricingQuantity),
  PricingUnit: str((r) => (isPurchase(r) ? 'Units' : r.resource.archetype.pricingUnit)),
  ProviderName: str(() => 'Microsoft'),
  PublisherName: str(() => 'Microsoft'),
  RegionId: str((r) => r.resource.region.id),
  RegionName: str((r) => r.resource.region.name),
  ResourceId: str((r, p) =>
    isPurchase(r) ? text(r.resource, p).reservationResourceIdLower : text(r.resource, p).resourceIdLower,
  ),
  ResourceName: str((r) => (isPurchase(r) ? (r.resource.reservation?.name ?? '') : r.resource.name)),
  ResourceType: str((r) => (isPurchase(r) ? 'Reservation' : r.resource.archetype.resourceTypeName)),
  ServiceCategory: str((r) => r.resource.archetype.serviceCategory),
  ServiceName: str((r) => r.resource.archetype.serviceName),
  ServiceSubcategory: NONE,
  SkuId: str((r) => r.resource.productId),
  SkuMeter: str((r) => (isPurchase(r) ? null : r.resource.archetype.meterName)),
  SkuPriceDetails: NONE,
  SkuPriceId: str((r, p) => text(r.resource, p).skuPriceId),
  SubAccountId: str((r) => `/subscriptions/${r.resource.subscription.id}`),
  SubAccountName: str((r) => r.resource.subscription.name),
  SubAccountType: str(() => 'Subscription'),
  Tags: str((r, p) => (isPurchase(r) ? '{}' : text(r.resource, p).tagsJson)),
  x_AccountId: str((_r, p) => p.billing.accountId || null),
  x_AccountName: str((_r, p) => p.billing.accountName || null),
  x_AccountOwnerId: str((_r, p) => p.billing.accountOwnerId || null),
  x_AmortizationClass: str((r) => (isPurchase(r) ? 'Principal' : r.committed ? 'Amortized Charge' : null)),
  x_BilledCostInUsd: dec((r) => r.billedCost),
  x_BilledUnitPrice: dec((r) => r.billedUnitPrice),
  x_BillingAccountId: str((_r, p) => p.billing.billingAccountId),
  x_BillingAccountName: str((_r, p) => p.billing.billingAccountName),
  x_BillingExchangeRate: str(() => '1'),
  x_BillingExchangeRateDate: date((r) => r.billingPeriodStart),
  x_BillingProfileId: str((_r, p) => p.billing.billingProfileId),
  x_BillingProfileName: str((_r, p) => p.billing.billingProfileName),
  x_ChargeId: str((r) => r.chargeId),
  x_ContractedCostInUsd: dec((r) => r.contractedCost),
  x_CostAllocationRuleName: NONE,
  x_CostCenter: str((r) => (isPurchase(r) ? null : (r.resource.tags['costCenter'] ?? null))),
  x_CustomerId: NONE,
  x_CustomerName: NONE,
  x_EffectiveCostInUsd: dec((r) => r.effectiveCost),
  x_EffectiveUnitPrice: dec((r) => r.effectiveUnitPrice),
  x_InvoiceId: NONE,
  x_InvoiceIssuerId: NONE,
  x_InvoiceSectionId: str((_r, p) => p.billing.invoiceSectionId),
  x_InvoiceSectionName: str((_r, p) => p.billing.invoiceSectionName),
  x_ListCostInUsd: dec((r) => r.listCost),
  x_PartnerCreditApplied: NONE,
  x_PartnerCreditRate: dec(() => null),
  x_PricingBlockSize: dec((r) => (isPurchase(r) ? 1 : r.resource.archetype.blockSize)),
  x_PricingCurrency: str((_r, p) => p.billing.currency),
  x_PricingSubcategory: str((r) =>
    isPurchase(r) ? 'Committed Purchase' : r.committed ? 'Committed Usage' : 'Standard',
  ),
  x_PricingUnitDescription: str((r) => (isPurchase(r) ? '1 Month' : r.resource.archetype.unitOfMeasure)),
  x_PublisherCategory: str(() => 'Cloud Provider'),
  x_PublisherId: NONE,
  x_ResellerId: NONE,
  x_ResellerName: NONE,
  x_ResourceGroupName: str((r) => (isPurchase(r) ? null : r.resource.resourceGroup)),
  x_ResourceType: str((r) =>
    (isPurchase(r)
      ? 'Microsoft.Capacity/reservationOrders/reservations'
      : r.resource.archetype.armType
    ).toLowerCase(),
  ),
  x_ServiceModel: str((r) => r.resource.archetype.serviceModel),
  x_ServicePeriodEnd: date((r) => r.chargePeriodEnd),
  x_ServicePeriodStart: date((r) => r.chargePeriodStart),
  x_SkuDescription: str((r, p) => description(r, p)),
  x_SkuDetails: str((r, p) => (isPurchase(r) ? null : text(r.resource, p).skuDetailsJson || null)),
  x_SkuIsCreditEligible: ['boolean', (r) => !isPurchase(r)],
  x_SkuMeterCategory: str((r) => r.resource.archetype.meterCategory),
  x_SkuMeterId: str((r) => (isPurchase(r) ? null : r.resource.meterId)),
  x_SkuMeterName: str((r) => (isPurchase(r) ? null : r.resource.archetype.meterName)),
  x_SkuMeterSubcategory: str((r) => r.resource.archetype.meterSubCategory || null),
  x_SkuOfferId: str((_r, p) => (p.billing.agreement === 'EA' ? 'MS-AZR-0017P' : null)),
  x_SkuOrderId: str((r, p) => text(r.resource, p).productOrderId || null),
  x_SkuOrderName: str((_r, p) => (p.billing.agreement === 'MCA' ? 'Azure plan' : null)),
  x_SkuPartNumber: str((r) => r.resource.partNumber),
  x_SkuPlanName: NONE,
  x_SkuRegion: str((r) => r.resource.region.meterRegion),
  x_SkuServiceFamily: str((r) => r.resource.archetype.serviceFamily),
  x_SkuTerm: str((r) => (r.committed ? String(r.resource.reservation?.termMonths ?? '') : null)),
  x_SkuTier: NONE,
};

const FOCUS_1_0 = `BilledCost BillingAccountId BillingAccountName BillingAccountType BillingCurrency BillingPeriodEnd
BillingPeriodStart ChargeCategory ChargeClass ChargeDescription ChargeFrequency ChargePeriodEnd ChargePeriodStart
CommitmentDiscountCategory CommitmentDiscountId CommitmentDiscountName CommitmentDiscountStatus CommitmentDiscountType
ConsumedQuantity ConsumedUnit ContractedCost ContractedUnitPrice EffectiveCost InvoiceIssuerName ListCost ListUnitPrice
PricingCategory PricingQuantity PricingUnit ProviderName PublisherName RegionId RegionName ResourceId ResourceName
ResourceType ServiceCategory ServiceName SkuId SkuPriceId SubAccountId SubAccountName SubAccountType Tags x_AccountId
x_AccountName x_AccountOwnerId x_BilledCostInUsd x_BilledUnitPrice x_BillingAccountId x_BillingAccountName
x_BillingExchangeRate x_BillingExchangeRateDate x_BillingProfileId x_BillingProfileName x_ContractedCostInUsd
x_CostAllocationRuleName x_CostCenter x_CustomerId x_CustomerName x_EffectiveCostInUsd x_EffectiveUnitPrice x_InvoiceId
x_InvoiceIssuerId x_InvoiceSectionId x_InvoiceSectionName x_ListCostInUsd x_PartnerCreditApplied x_PartnerCreditRate
x_PricingBlockSize x_PricingCurrency x_PricingSubcategory x_PricingUnitDescription x_PublisherCategory x_PublisherId
x_ResellerId x_ResellerName x_ResourceGroupName x_ResourceType x_ServicePeriodEnd x_ServicePeriodStart x_SkuDescription
x_SkuDetails x_SkuIsCreditEligible x_SkuMeterCategory x_SkuMeterId x_SkuMeterName x_SkuMeterSubcategory x_SkuOfferId
x_SkuOrderId x_SkuOrderName x_SkuPartNumber x_SkuRegion x_SkuServiceFamily x_SkuTerm x_SkuTier`;

const FOCUS_1_2_PREVIEW = `BilledCost BillingAccountId BillingAccountName BillingAccountType BillingCurrency
BillingPeriodEnd BillingPeriodStart CapacityReservationId CapacityReservationStatus ChargeCategory ChargeClass
ChargeDescription ChargeFrequency ChargePeriodEnd ChargePeriodStart CommitmentDiscountCategory CommitmentDiscountId
CommitmentDiscountName CommitmentDiscountQuantity CommitmentDiscountStatus CommitmentDiscountType CommitmentDiscountUnit
ConsumedQuantity ConsumedUnit ContractedCost ContractedUnitPrice EffectiveCost InvoiceId InvoiceIssuerName ListCost
ListUnitPrice PricingCategory PricingCurrency PricingQuantity PricingUnit ProviderName PublisherName RegionId RegionName
ResourceId ResourceName ResourceType ServiceCategory ServiceName ServiceSubcategory SkuId SkuMeter SkuPriceDetails
SkuPriceId SubAccountId SubAccountName SubAccountType Tags x_AccountId x_AccountName x_AccountOwnerId
x_AmortizationClass x_BilledCostInUsd x_BilledUnitPrice x_BillingAccountId x_BillingAccountName x_BillingExchangeRate
x_BillingExchangeRateDate x_BillingProfileId x_BillingProfileName x_ContractedCostInUsd x_CostAllocationRuleName
x_CostCenter x_CustomerId x_CustomerName x_EffectiveCostInUsd x_EffectiveUnitPrice x_InvoiceSectionId
x_InvoiceSectionName x_ListCostInUsd x_PartnerCreditApplied x_PartnerCreditRate x_PricingBlockSize x_PricingCurrency
x_PricingSubcategory x_PricingUnitDescription x_PublisherCategory x_PublisherId x_ResellerId x_ResellerName
x_ResourceGroupName x_ResourceType x_ServiceModel x_ServicePeriodEnd x_ServicePeriodStart x_SkuDescription
x_SkuDetails x_SkuIsCreditEligible x_SkuMeterCategory x_SkuMeterId x_SkuMeterName x_SkuMeterSubcategory x_SkuOfferId
x_SkuOrderId x_SkuOrderName x_SkuPlanName x_SkuPartNumber x_SkuRegion x_SkuServiceFamily x_SkuTier`;

function columnsFrom<R>(
  names: string,
  specs: Record<string, [CellKind, (r: R, p: Population) => Cell]>,
): Column<R>[] {
  return names
    .split(/\s+/)
    .filter(Boolean)
    .map((name) => {
      const spec = specs[name];
      if (!spec) throw new Error(`columns: no value for column ${name}`);
      return { name, kind: spec[0], value: spec[1] };
    });
}

// ---- ActualCost / AmortizedCost 2021-10-01 ---------------------------------------------------

type CostSpecs = Record<string, Spec>;

/** Column values shared by the EA and MCA headers, keyed by a neutral name. */
function costDetailSpecs(view: 'actual' | 'amortized'): CostSpecs {
  const res = (r: ChargeRecord, fn: (res: Resource) => string): string =>
    isPurchase(r) ? '' : fn(r.resource);
  return {
    billingAccountId: str((_r, p) => p.billing.billingAccountId),
    billingAccountName: str((_r, p) => p.billing.billingAccountName),
    billingProfileId: str((_r, p) => p.billing.billingProfileId),
    billingProfileName: str((_r, p) => p.billing.billingProfileName),
    invoiceSectionId: str((_r, p) => p.billing.invoiceSectionId),
    invoiceSectionName: str((_r, p) => p.billing.invoiceSectionName),
    accountName: str((_r, p) => p.billing.accountName),
    accountOwnerId: str((_r, p) => p.billing.accountOwnerId),
    billingPeriodStartDate: date((r) => r.billingPeriodStart),
    billingPeriodEndDate: date((r) => inclusiveEnd(r.billingPeriodEnd)),
    servicePeriodStartDate: date((r) => r.billingPeriodStart),
    servicePeriodEndDate: date((r) => inclusiveEnd(r.billingPeriodEnd)),
    date: date((r) => r.chargePeriodStart),
    serviceFamily: str((r) => r.resource.archetype.serviceFamily),
    productOrderId: str((r, p) => text(r.resource, p).productOrderId),
    productOrderName: str((_r, p) => (p.billing.agreement === 'MCA' ? 'Azure plan' : '')),
    consumedService: str((r) => res(r, (x) => x.archetype.consumedService)),
    meterId: str((r) => res(r, (x) => x.meterId)),
    meterName: str((r) => (isPurchase(r) ? '' : r.resource.archetype.meterName)),
    meterCategory: str((r) => r.resource.archetype.meterCategory),
    meterSubCategory: str((r) => r.resource.archetype.meterSubCategory),
    meterRegion: str((r) => r.resource.region.meterRegion),
    productId: str((r) => r.resource.productId),
    productName: str((r, p) => description(r, p)),
    subscriptionId: str((r) => r.resource.subscription.id),
    subscriptionName: str((r) => r.resource.subscription.name),
    publisherType: str((_r, p) => (p.billing.agreement === 'EA' ? 'Azure' : 'Microsoft')),
    publisherId: NONE,
    publisherName: str(() => 'Microsoft'),
    resourceGroup: str((r) => res(r, (x) => x.resourceGroup)),
    resourceId: str((r) => res(r, (x) => x.resourceId)),
    resourceName: str((r) => res(r, (x) => x.name)),
    resourceLocation: str((r) => res(r, (x) => x.region.id)),
    location: str((r) => r.resource.region.meterRegion),
    effectivePrice: dec((r) => unitPrice(r, view)),
    quantity: dec((r) => r.pricingQuantity),
    unitOfMeasure: str((r) => (isPurchase(r) ? '1 Month' : r.resource.archetype.unitOfMeasure)),
    chargeType: str((r) => r.category),
    billingCurrency: str((_r, p) => p.billing.currency),
    cost: dec((r) => cost(r, view)),
    paygCost: dec((r) => r.listCost),
    exchangeRate: dec(() => 1),
    exchangeRateDate: date((r) => r.billingPeriodStart),
    isAzureCreditEligible: ['boolean', (r) => !isPurchase(r)],
    serviceInfo1: NONE,
    serviceInfo2: NONE,
    additionalInfo: str((r, p) => (isPurchase(r) ? '' : text(r.resource, p).skuDetailsJson)),
    tags: str((r, p) => (isPurchase(r) ? '' : text(r.resource, p).tagsJson)),
    payGPrice: dec((r) => r.listUnitPrice),
    frequency: str((r) => (isPurchase(r) ? 'Recurring' : 'UsageBased')),
    term: str((r) => (r.committed ? String(r.resource.reservation?.termMonths ?? '') : '')),
    reservationId: str((r) => (r.committed ? (r.resource.reservation?.id ?? '') : '')),
    reservationName: str((r) => (r.committed ? (r.resource.reservation?.name ?? '') : '')),
    pricingModel: str((r) => (r.committed ? 'Reservation' : 'OnDemand')),
    unitPrice: dec((r) => r.contractedUnitPrice),
    costCenter: str((r) => (isPurchase(r) ? '' : (r.resource.tags['costCenter'] ?? ''))),
    offerId: str((_r, p) => (p.billing.agreement === 'EA' ? 'MS-AZR-0017P' : '')),
    partNumber: str((r) => r.resource.partNumber),
    availabilityZone: NONE,
    planName: NONE,
    costAllocationRuleName: NONE,
    benefitId: str((r, p) => (r.committed ? text(r.resource, p).reservationResourceId : '')),
    benefitName: str((r) => (r.committed ? (r.resource.reservation?.name ?? '') : '')),
    provider: str(() => 'Azure'),
    empty: NONE,
  };
}

/** EA 2021-10-01 header (koku's v2 sample order plus the three columns 2021-10-01 added). */
const EA_HEADER: readonly [string, string][] = [
  ['InvoiceSectionName', 'invoiceSectionName'],
  ['AccountName', 'accountName'],
  ['AccountOwnerId', 'accountOwnerId'],
  ['SubscriptionId', 'subscriptionId'],
  ['SubscriptionName', 'subscriptionName'],
  ['ResourceGroup', 'resourceGroup'],
  ['ResourceLocation', 'resourceLocation'],
  ['Date', 'date'],
  ['ProductName', 'productName'],
  ['MeterCategory', 'meterCategory'],
  ['MeterSubCategory', 'meterSubCategory'],
  ['MeterId', 'meterId'],
  ['MeterName', 'meterName'],
  ['MeterRegion', 'meterRegion'],
  ['UnitOfMeasure', 'unitOfMeasure'],
  ['Quantity', 'quantity'],
  ['EffectivePrice', 'effectivePrice'],
  ['CostInBillingCurrency', 'cost'],
  ['CostCenter', 'costCenter'],
  ['ConsumedService', 'consumedService'],
  ['ResourceId', 'resourceId'],
  ['Tags', 'tags'],
  ['OfferId', 'offerId'],
  ['AdditionalInfo', 'additionalInfo'],
  ['ServiceInfo1', 'serviceInfo1'],
  ['ServiceInfo2', 'serviceInfo2'],
  ['ResourceName', 'resourceName'],
  ['ReservationId', 'reservationId'],
  ['ReservationName', 'reservationName'],
  ['UnitPrice', 'unitPrice'],
  ['ProductOrderId', 'productOrderId'],
  ['ProductOrderName', 'productOrderName'],
  ['Term', 'term'],
  ['PublisherType', 'publisherType'],
  ['PublisherName', 'publisherName'],
  ['ChargeType', 'chargeType'],
  ['Frequency', 'frequency'],
  ['PricingModel', 'pricingModel'],
  ['AvailabilityZone', 'availabilityZone'],
  ['BillingAccountId', 'billingAccountId'],
  ['BillingAccountName', 'billingAccountName'],
  ['BillingCurrencyCode', 'billingCurrency'],
  ['BillingPeriodStartDate', 'billingPeriodStartDate'],
  ['BillingPeriodEndDate', 'billingPeriodEndDate'],
  ['BillingProfileId', 'billingProfileId'],
  ['BillingProfileName', 'billingProfileName'],
  ['InvoiceSectionId', 'invoiceSectionId'],
  ['IsAzureCreditEligible', 'isAzureCreditEligible'],
  ['PartNumber', 'partNumber'],
  ['PayGPrice', 'payGPrice'],
  ['PlanName', 'planName'],
  ['ServiceFamily', 'serviceFamily'],
  ['CostAllocationRuleName', 'costAllocationRuleName'],
  ['benefitId', 'benefitId'],
  ['benefitName', 'benefitName'],
];

/** MCA 2021-10-01-style camelCase header (65 columns; order as returned by the Cost Details API). */
const MCA_HEADER: readonly [string, string][] = [
  ['invoiceId', 'empty'],
  ['previousInvoiceId', 'empty'],
  ['billingAccountId', 'billingAccountId'],
  ['billingAccountName', 'billingAccountName'],
  ['billingProfileId', 'billingProfileId'],
  ['billingProfileName', 'billingProfileName'],
  ['invoiceSectionId', 'invoiceSectionId'],
  ['invoiceSectionName', 'invoiceSectionName'],
  ['resellerName', 'empty'],
  ['resellerMpnId', 'empty'],
  ['costCenter', 'costCenter'],
  ['billingPeriodEndDate', 'billingPeriodEndDate'],
  ['billingPeriodStartDate', 'billingPeriodStartDate'],
  ['servicePeriodEndDate', 'servicePeriodEndDate'],
  ['servicePeriodStartDate', 'servicePeriodStartDate'],
  ['date', 'date'],
  ['serviceFamily', 'serviceFamily'],
  ['productOrderId', 'productOrderId'],
  ['productOrderName', 'productOrderName'],
  ['consumedService', 'consumedService'],
  ['meterId', 'meterId'],
  ['meterName', 'meterName'],
  ['meterCategory', 'meterCategory'],
  ['meterSubCategory', 'meterSubCategory'],
  ['meterRegion', 'meterRegion'],
  ['ProductId', 'productId'],
  ['ProductName', 'productName'],
  ['SubscriptionId', 'subscriptionId'],
  ['subscriptionName', 'subscriptionName'],
  ['publisherType', 'publisherType'],
  ['publisherId', 'publisherId'],
  ['publisherName', 'publisherName'],
  ['resourceGroupName', 'resourceGroup'],
  ['ResourceId', 'resourceId'],
  ['resourceLocation', 'resourceLocation'],
  ['location', 'location'],
  ['effectivePrice', 'effectivePrice'],
  ['quantity', 'quantity'],
  ['unitOfMeasure', 'unitOfMeasure'],
  ['chargeType', 'chargeType'],
  ['billingCurrency', 'billingCurrency'],
  ['pricingCurrency', 'billingCurrency'],
  ['costInBillingCurrency', 'cost'],
  ['costInPricingCurrency', 'cost'],
  ['costInUsd', 'cost'],
  ['paygCostInBillingCurrency', 'paygCost'],
  ['paygCostInUsd', 'paygCost'],
  ['exchangeRatePricingToBilling', 'exchangeRate'],
  ['exchangeRateDate', 'exchangeRateDate'],
  ['isAzureCreditEligible', 'isAzureCreditEligible'],
  ['serviceInfo1', 'serviceInfo1'],
  ['serviceInfo2', 'serviceInfo2'],
  ['additionalInfo', 'additionalInfo'],
  ['tags', 'tags'],
  ['PayGPrice', 'payGPrice'],
  ['frequency', 'frequency'],
  ['term', 'term'],
  ['reservationId', 'reservationId'],
  ['reservationName', 'reservationName'],
  ['pricingModel', 'pricingModel'],
  ['unitPrice', 'unitPrice'],
  ['costAllocationRuleName', 'costAllocationRuleName'],
  ['benefitId', 'benefitId'],
  ['benefitName', 'benefitName'],
  ['provider', 'provider'],
];

function costDetailColumns(
  header: readonly [string, string][],
  view: 'actual' | 'amortized',
): Column<ChargeRecord>[] {
  const specs = costDetailSpecs(view);
  return header.map(([name, key]) => {
    const spec = specs[key];
    if (!spec) throw new Error(`columns: no value for ${name} (${key})`);
    return { name, kind: spec[0], value: spec[1] };
  });
}

// ---- PriceSheet (small plausible subset of the 2023-05-01 EA/MCA price sheet) ----------------

const PRICE_SHEET_SPECS: Record<string, [CellKind, (r: PriceRecord, p: Population) => Cell]> = {
  BasePrice: ['decimal', (r) => r.resource.archetype.listUnitPrice],
  CurrencyCode: ['string', (_r, p) => p.billing.currency],
  EffectiveEndDate: ['datetime', (r) => r.effectiveEnd],
  EffectiveStartDate: ['datetime', (r) => r.effectiveStart],
  EnrollmentNumber: ['string', (_r, p) => p.billing.billingAccountId],
  IncludedQuantity: ['decimal', () => 0],
  MarketPrice: ['decimal', (r) => r.resource.archetype.listUnitPrice],
  MeterCategory: ['string', (r) => r.resource.archetype.meterCategory],
  MeterId: ['string', (r) => r.resource.meterId],
  MeterName: ['string', (r) => r.resource.archetype.meterName],
  MeterRegion: ['string', (r) => r.resource.region.meterRegion],
  MeterSubCategory: ['string', (r) => r.resource.archetype.meterSubCategory],
  MeterType: ['string', (r) => r.resource.archetype.unitOfMeasure],
  OfferId: ['string', (_r, p) => (p.billing.agreement === 'EA' ? 'MS-AZR-0017P' : '')],
  PartNumber: ['string', (r) => r.resource.partNumber],
  PriceType: ['string', () => 'Consumption'],
  Product: ['string', (r) => productName(r.resource.archetype, r.resource.region.meterRegion)],
  ProductId: ['string', (r) => r.resource.productId],
  ServiceFamily: ['string', (r) => r.resource.archetype.serviceFamily],
  SkuId: ['string', (r, p) => text(r.resource, p).skuPriceId],
  Term: ['string', () => ''],
  UnitOfMeasure: ['string', (r) => r.resource.archetype.unitOfMeasure],
  UnitPrice: ['decimal', (r) => r.resource.contractedUnitPrice],
};

const PRICE_SHEET = `BasePrice CurrencyCode EffectiveEndDate EffectiveStartDate EnrollmentNumber IncludedQuantity
MarketPrice MeterCategory MeterId MeterName MeterRegion MeterSubCategory MeterType OfferId PartNumber PriceType Product
ProductId ServiceFamily SkuId Term UnitOfMeasure UnitPrice`;

// ---- schema selection ------------------------------------------------------------------------

/** A schema tagged with the records it is made of. */
export type AnySchema =
  | { records: 'charges'; schema: DatasetSchema<ChargeRecord> }
  | { records: 'prices'; schema: DatasetSchema<PriceRecord> };

/** The cells of each record, in column order. */
export function* cellsOf<R>(
  schema: DatasetSchema<R>,
  records: Iterable<R>,
  population: Population,
): Generator<Cell[]> {
  for (const record of records) yield schema.columns.map((c) => c.value(record, population));
}

/** The schema a run of `type`/`version` writes; throws UnsupportedDatasetError for datasets or
 * versions the emulator does not produce. */
export function schemaFor(type: string, version: string | undefined, agreement: Agreement): AnySchema {
  const dataVersion = version ?? DEFAULT_DATA_VERSIONS[type];
  if (type === 'FocusCost') {
    const v = dataVersion ?? '1.2-preview';
    const base = { type, dataVersion: v, booleanStyle: 'lower', costView: 'both' } as const;
    const focus = (names: string, dateStyle: DateStyle): AnySchema => ({
      records: 'charges',
      schema: { ...base, columns: columnsFrom(names, FOCUS_SPECS), dateStyle },
    });
    if (v === '1.0') return focus(FOCUS_1_0, 'isoMinutes');
    if (v === '1.0r2') return focus(FOCUS_1_0, 'isoSeconds');
    if (v === '1.2-preview' || v === '1.2') return focus(FOCUS_1_2_PREVIEW, 'isoSeconds');
    throw new UnsupportedDatasetError(
      `dataset FocusCost version ${v} is not emulated; use 1.0, 1.0r2 or 1.2-preview`,
    );
  }
  if (type === 'ActualCost' || type === 'Usage' || type === 'AmortizedCost') {
    const v = dataVersion ?? '2021-10-01';
    // The spec's own examples send 2023-05-01 for ActualCost; no public sample shows a different
    // header for it, so it is emulated with the 2021-10-01 columns rather than failing the run.
    if (v !== '2021-10-01' && v !== '2023-05-01') {
      throw new UnsupportedDatasetError(
        `dataset ${type} version ${v} is not emulated; use 2021-10-01 (or 2023-05-01, same columns)`,
      );
    }
    const view = type === 'AmortizedCost' ? 'amortized' : 'actual';
    return {
      records: 'charges',
      schema: {
        type,
        dataVersion: v,
        columns: costDetailColumns(agreement === 'EA' ? EA_HEADER : MCA_HEADER, view),
        dateStyle: 'usDate',
        booleanStyle: 'title',
        costView: view,
      },
    };
  }
  if (type === 'PriceSheet') {
    return {
      records: 'prices',
      schema: {
        type,
        dataVersion: dataVersion ?? '2023-05-01',
        columns: columnsFrom(PRICE_SHEET, PRICE_SHEET_SPECS),
        dateStyle: 'usDate',
        booleanStyle: 'title',
        costView: 'both',
      },
    };
  }
  throw new UnsupportedDatasetError(
    `dataset ${type} is not emulated; the emulator writes FocusCost, ActualCost, AmortizedCost, Usage and PriceSheet`,
  );
}
