// The billing facts behind every dataset: who is billed (billing context), which resources exist
// (population) and what each one costs each day (charge records). Pure and deterministic: the
// population depends on (seed, scope) and a day's usage on (seed, scope, resource, day), so the
// actual, amortized and FOCUS files of one scope agree with each other and with every rerun.
import { parseScope, type Scope } from '../../../src/domain/scope';
import {
  type Archetype,
  ARCHETYPES,
  COST_CENTERS,
  OWNERS,
  type Region,
  REGIONS,
  RESOURCE_GROUPS,
  SUBSCRIPTION_NAMES,
} from './catalog';
import { addDays, daysInMonth, eachDay, firstOfMonth, firstOfNextMonth, roundTo, yyyyMMdd } from './format';
import { createRandom, type Random } from './prng';

export type Agreement = 'EA' | 'MCA';

export interface BillingContext {
  agreement: Agreement;
  /** EA: enrollment number; MCA: `{guid}:{guid}_{yyyy-mm-dd}`. */
  billingAccountId: string;
  billingAccountName: string;
  /** EA: the enrollment again; MCA: `AB12-CD34-EF5-GHI`. */
  billingProfileId: string;
  billingProfileName: string;
  /** EA department / MCA invoice section. */
  invoiceSectionId: string;
  invoiceSectionName: string;
  /** EA enrollment account (empty for MCA). */
  accountId: string;
  accountName: string;
  accountOwnerId: string;
  currency: string;
  /** Negotiated discount off list prices (EA price sheet discount). */
  discount: number;
}

export interface Subscription {
  id: string;
  name: string;
}

export interface Reservation {
  orderId: string;
  id: string;
  name: string;
  /** Effective (amortized) price per pricing unit while the reservation covers usage. */
  unitPrice: number;
  termMonths: number;
}

export interface Resource {
  index: number;
  archetype: Archetype;
  region: Region;
  subscription: Subscription;
  resourceGroup: string;
  name: string;
  /** ARM id in ARM's casing. */
  resourceId: string;
  tags: Record<string, string>;
  meterId: string;
  partNumber: string;
  productId: string;
  contractedUnitPrice: number;
  /** Stable per resource: spreads capacity between resources of one kind. */
  sizeFactor: number;
  reservation?: Reservation;
}

export interface Population {
  scope: Scope;
  seed: number;
  billing: BillingContext;
  subscriptions: Subscription[];
  resources: Resource[];
}

export interface ChargeRecord {
  category: 'Usage' | 'Purchase';
  resource: Resource;
  /** Inclusive start of the charge period (UTC midnight). */
  chargePeriodStart: Date;
  /** Exclusive end of the charge period. */
  chargePeriodEnd: Date;
  billingPeriodStart: Date;
  /** Exclusive end: the first day of the next month. */
  billingPeriodEnd: Date;
  pricingQuantity: number;
  consumedQuantity: number;
  listUnitPrice: number;
  contractedUnitPrice: number;
  /** Amortized unit price (what EffectiveCost uses). */
  effectiveUnitPrice: number;
  /** Invoiced unit price (what BilledCost uses): 0 for usage a reservation covers. */
  billedUnitPrice: number;
  listCost: number;
  contractedCost: number;
  effectiveCost: number;
  billedCost: number;
  /** Usage covered by a reservation, or a reservation purchase. */
  committed: boolean;
  chargeId: string;
}

export interface PopulationOptions {
  seed: number;
  scope: string;
  resourceCount: number;
  agreement?: Agreement;
}

/** MCA for MCA-shaped billing scopes, EA otherwise (subscriptions, resource groups, management
 * groups and EA billing scopes). */
export function agreementForScope(scope: Scope): Agreement {
  if (scope.kind === 'billingProfile' || scope.kind === 'invoiceSection' || scope.kind === 'customer')
    return 'MCA';
  if (scope.kind === 'billingAccount' && scope.billingAccountId && !/^\d+$/.test(scope.billingAccountId))
    return 'MCA';
  return 'EA';
}

const COST_DIGITS = 10;
const PRICE_DIGITS = 6;
/** Reservations save about 38% over the negotiated pay-as-you-go price. */
const RESERVATION_RATE = 0.62;

function billingContext(scope: Scope, agreement: Agreement, random: Random): BillingContext {
  const discount = agreement === 'EA' ? random.int(0, 15) / 100 : 0;
  if (agreement === 'EA') {
    const enrollment = scope.billingAccountId ?? String(random.int(10_000_000, 99_999_999));
    const department = scope.departmentId ?? String(random.int(100_000, 999_999));
    const account = scope.enrollmentAccountId ?? String(random.int(100_000, 999_999));
    return {
      agreement,
      billingAccountId: enrollment,
      billingAccountName: 'Contoso Ltd',
      billingProfileId: enrollment,
      billingProfileName: 'Contoso Ltd',
      invoiceSectionId: department,
      invoiceSectionName: 'Contoso IT',
      accountId: account,
      accountName: 'Contoso Cloud Operations',
      accountOwnerId: 'cloudops@contoso.com',
      currency: 'USD',
      discount,
    };
  }
  const mcaCode = () => `${random.code(4)}-${random.code(4)}-${random.code(3)}-${random.code(3)}`;
  return {
    agreement,
    billingAccountId: scope.billingAccountId ?? `${random.guid()}:${random.guid()}_2019-05-31`,
    billingAccountName: 'Contoso Ltd',
    billingProfileId: scope.billingProfileId ?? mcaCode(),
    billingProfileName: 'Contoso Billing',
    invoiceSectionId: scope.invoiceSectionId ?? mcaCode(),
    invoiceSectionName: 'Contoso IT',
    accountId: '',
    accountName: '',
    accountOwnerId: '',
    currency: 'USD',
    discount,
  };
}

function resourceName(archetype: Archetype, app: string, ordinal: number, random: Random): string {
  const nn = String(ordinal).padStart(2, '0');
  switch (archetype.key) {
    case 'storage':
      return `st${app}${random.code(6).toLowerCase()}`; // storage account names: lower-case, no dashes
    case 'disk':
      return `vm-${app}-${nn}_OsDisk_1_${random.guid().replace(/-/g, '')}`;
    default:
      return `${archetype.namePrefix}-${app}-${nn}`;
  }
}

function armResourceId(sub: string, rg: string, archetype: Archetype, name: string): string {
  if (archetype.armType === 'Microsoft.Sql/servers/databases') {
    return `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Sql/servers/sql-${rg.replace(/^rg-/, '')}/databases/${name}`;
  }
  return `/subscriptions/${sub}/resourceGroups/${rg}/providers/${archetype.armType}/${name}`;
}

/** The billing account, subscriptions and resources of one (seed, scope). */
export function buildPopulation(options: PopulationOptions): Population {
  const scope = parseScope(options.scope);
  const random = createRandom('population', options.seed, scope.canonical.toLowerCase());
  const agreement = options.agreement ?? agreementForScope(scope);
  const billing = billingContext(scope, agreement, random);

  const subscriptionCount = scope.subscriptionId
    ? 1
    : Math.min(4, 1 + Math.floor(options.resourceCount / 15));
  const subscriptions: Subscription[] = [];
  for (let i = 0; i < subscriptionCount; i++) {
    subscriptions.push({
      id: i === 0 && scope.subscriptionId ? scope.subscriptionId : random.guid(),
      name: SUBSCRIPTION_NAMES[i % SUBSCRIPTION_NAMES.length]!,
    });
  }

  const resources: Resource[] = [];
  const ordinals = new Map<string, number>();
  let reserved = false;
  for (let index = 0; index < options.resourceCount; index++) {
    // The first resource is always an always-on VM so every population has a reservation.
    const archetype = index === 0 ? ARCHETYPES[0]! : random.pick(ARCHETYPES);
    const subscription = subscriptions[index % subscriptions.length]!;
    const group = scope.resourceGroupName
      ? { name: scope.resourceGroupName, env: 'prod', app: 'app' }
      : random.pick(RESOURCE_GROUPS);
    const ordinalKey = `${group.app}/${archetype.key}`;
    const ordinal = (ordinals.get(ordinalKey) ?? 0) + 1;
    ordinals.set(ordinalKey, ordinal);
    const name = resourceName(archetype, group.app, ordinal, random);
    const tags: Record<string, string> = {
      env: group.env,
      costCenter: random.pick(COST_CENTERS),
      owner: random.pick(OWNERS),
      application: group.app,
    };
    // A value with a comma and quotes, as real tags have, so CSV quoting is always exercised.
    if (index % 4 === 1) tags['description'] = `Contoso, "${group.app}" workload`;
    const contractedUnitPrice = roundTo(archetype.listUnitPrice * (1 - billing.discount), PRICE_DIGITS);
    const resource: Resource = {
      index,
      archetype,
      region: index === 0 ? REGIONS[0]! : random.pick(REGIONS),
      subscription,
      resourceGroup: group.name,
      name,
      resourceId: armResourceId(subscription.id, group.name, archetype, name),
      tags,
      meterId: createRandom('meter', archetype.key).guid(),
      partNumber: `${createRandom('part', archetype.key).code(3)}-${createRandom('partno', archetype.key).int(10000, 99999)}`,
      productId: createRandom('product', archetype.key).code(12),
      contractedUnitPrice,
      sizeFactor: random.next(),
    };
    if (archetype.reservable && !reserved) {
      reserved = true;
      resource.reservation = {
        orderId: random.guid(),
        id: random.guid(),
        name: `VM_RI_${random.int(1, 12).toString().padStart(2, '0')}-01-2024_12-00`,
        unitPrice: roundTo(contractedUnitPrice * RESERVATION_RATE, PRICE_DIGITS),
        termMonths: 12,
      };
    }
    resources.push(resource);
  }
  return { scope, seed: options.seed, billing, subscriptions, resources };
}

/** Pricing units one resource used on one day. */
function dailyQuantity(resource: Resource, day: Date, random: Random): number {
  const usage = resource.archetype.usage;
  switch (usage.kind) {
    case 'alwaysOn':
      return usage.unitsPerHour * 24;
    case 'office': {
      const weekday = day.getUTCDay() >= 1 && day.getUTCDay() <= 5;
      return usage.unitsPerHour * (weekday ? random.int(9, 13) : random.int(1, 3));
    }
    case 'monthlyCapacity': {
      const days = daysInMonth(day.getUTCFullYear(), day.getUTCMonth());
      const growth = 1 + (day.getUTCDate() - 1) * 0.002;
      const capacity = (usage.base + usage.spread * resource.sizeFactor) * growth;
      return roundTo(capacity / days, PRICE_DIGITS);
    }
    case 'volume':
      return roundTo(usage.min + (usage.max - usage.min) * random.next(), 4);
  }
}

function usageRecord(population: Population, resource: Resource, day: Date): ChargeRecord {
  const random = createRandom(
    'usage',
    population.seed,
    population.scope.canonical.toLowerCase(),
    resource.index,
    yyyyMMdd(day),
  );
  const quantity = dailyQuantity(resource, day, random);
  const list = resource.archetype.listUnitPrice;
  const contracted = resource.contractedUnitPrice;
  const reservation = resource.reservation;
  const effective = reservation ? reservation.unitPrice : contracted;
  const billed = reservation ? 0 : contracted;
  return {
    category: 'Usage',
    resource,
    chargePeriodStart: day,
    chargePeriodEnd: addDays(day, 1),
    billingPeriodStart: firstOfMonth(day),
    billingPeriodEnd: firstOfNextMonth(day),
    pricingQuantity: quantity,
    consumedQuantity: roundTo(quantity * resource.archetype.blockSize, PRICE_DIGITS),
    listUnitPrice: list,
    contractedUnitPrice: contracted,
    effectiveUnitPrice: effective,
    billedUnitPrice: billed,
    listCost: roundTo(quantity * list, COST_DIGITS),
    contractedCost: roundTo(quantity * contracted, COST_DIGITS),
    effectiveCost: roundTo(quantity * effective, COST_DIGITS),
    billedCost: roundTo(quantity * billed, COST_DIGITS),
    committed: reservation !== undefined,
    chargeId: random.guid(),
  };
}

/** The monthly reservation payment, billed on the 1st and amortized over the month's usage rows:
 * a fully used reservation's daily amortized usage adds up to exactly this fee. */
function purchaseRecord(
  population: Population,
  resource: Resource,
  reservation: Reservation,
  monthStart: Date,
): ChargeRecord {
  const random = createRandom(
    'purchase',
    population.seed,
    population.scope.canonical.toLowerCase(),
    resource.index,
    yyyyMMdd(monthStart),
  );
  const days = daysInMonth(monthStart.getUTCFullYear(), monthStart.getUTCMonth());
  const fee = roundTo(reservation.unitPrice * 24 * days, COST_DIGITS);
  return {
    category: 'Purchase',
    resource,
    chargePeriodStart: monthStart,
    chargePeriodEnd: firstOfNextMonth(monthStart),
    billingPeriodStart: monthStart,
    billingPeriodEnd: firstOfNextMonth(monthStart),
    pricingQuantity: 1,
    consumedQuantity: 1,
    listUnitPrice: fee,
    contractedUnitPrice: fee,
    effectiveUnitPrice: 0,
    billedUnitPrice: fee,
    listCost: fee,
    contractedCost: fee,
    effectiveCost: 0,
    billedCost: fee,
    committed: true,
    chargeId: random.guid(),
  };
}

export interface ChargeOptions {
  from: Date;
  to: Date;
  granularity: 'Daily' | 'Monthly';
  /** Reservation purchases appear in actual cost and FOCUS, not in amortized cost. */
  includePurchases: boolean;
}

/** One usage record per resource per day (or per month for Monthly granularity), day by day, plus
 * a purchase record on the 1st of each month in the period for every reservation. */
export function* generateCharges(population: Population, options: ChargeOptions): Generator<ChargeRecord> {
  const days = eachDay(options.from, options.to);
  if (options.granularity === 'Daily') {
    for (const day of days) {
      if (options.includePurchases && day.getUTCDate() === 1) yield* purchases(population, day);
      for (const resource of population.resources) yield usageRecord(population, resource, day);
    }
    return;
  }
  // Monthly: one record per resource per calendar month of the period, summing its days.
  const months = new Map<number, Date[]>();
  for (const day of days) {
    const key = firstOfMonth(day).getTime();
    months.set(key, [...(months.get(key) ?? []), day]);
  }
  for (const monthDays of months.values()) {
    const first = monthDays[0]!;
    if (options.includePurchases && first.getUTCDate() === 1) yield* purchases(population, first);
    for (const resource of population.resources) {
      const daily = monthDays.map((d) => usageRecord(population, resource, d));
      const base = daily[0]!;
      const sum = (pick: (r: ChargeRecord) => number, digits: number) =>
        roundTo(
          daily.reduce((total, r) => total + pick(r), 0),
          digits,
        );
      yield {
        ...base,
        chargePeriodEnd: addDays(monthDays[monthDays.length - 1]!, 1),
        pricingQuantity: sum((r) => r.pricingQuantity, PRICE_DIGITS),
        consumedQuantity: sum((r) => r.consumedQuantity, PRICE_DIGITS),
        listCost: sum((r) => r.listCost, COST_DIGITS),
        contractedCost: sum((r) => r.contractedCost, COST_DIGITS),
        effectiveCost: sum((r) => r.effectiveCost, COST_DIGITS),
        billedCost: sum((r) => r.billedCost, COST_DIGITS),
      };
    }
  }
}

function* purchases(population: Population, monthStart: Date): Generator<ChargeRecord> {
  for (const resource of population.resources) {
    if (resource.reservation) yield purchaseRecord(population, resource, resource.reservation, monthStart);
  }
}

/** One price sheet line: a meter the population uses, in one region, for the period's month. */
export interface PriceRecord {
  resource: Resource;
  effectiveStart: Date;
  effectiveEnd: Date;
}

/** The price sheet of the month `from` falls in: one line per distinct meter and region. */
export function* generatePrices(population: Population, from: Date): Generator<PriceRecord> {
  const seen = new Set<string>();
  for (const resource of population.resources) {
    const key = `${resource.archetype.key}/${resource.region.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    yield { resource, effectiveStart: firstOfMonth(from), effectiveEnd: addDays(firstOfNextMonth(from), -1) };
  }
}
