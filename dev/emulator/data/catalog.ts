// The resource kinds the emulator bills for: meters, units and list prices close to Azure's public
// retail prices (USD), so files look like a small real estate of Azure resources.

export interface Region {
  /** `eastus`: FOCUS RegionId and ResourceLocation. */
  id: string;
  /** `East US`: FOCUS RegionName. */
  name: string;
  /** `US East`: the meter region of actual/amortized files. */
  meterRegion: string;
}

export const REGIONS: readonly Region[] = [
  { id: 'eastus', name: 'East US', meterRegion: 'US East' },
  { id: 'westus2', name: 'West US 2', meterRegion: 'US West 2' },
  { id: 'westeurope', name: 'West Europe', meterRegion: 'EU West' },
  { id: 'northeurope', name: 'North Europe', meterRegion: 'EU North' },
  { id: 'uksouth', name: 'UK South', meterRegion: 'UK South' },
  { id: 'southeastasia', name: 'Southeast Asia', meterRegion: 'AP Southeast' },
];

/** How much of a pricing unit one resource uses on one day. */
export type UsageProfile =
  | { kind: 'alwaysOn'; unitsPerHour: number } // hourly meters running all day
  | { kind: 'office'; unitsPerHour: number } // dev machines: long weekdays, short weekends
  | { kind: 'monthlyCapacity'; base: number; spread: number } // "1/Month" and "GB/Month" meters, prorated by day
  | { kind: 'volume'; min: number; max: number }; // per-day volumes (GB ingested, 10K operations)

export interface Archetype {
  key: string;
  armType: string;
  /** FOCUS ResourceType: the friendly name. */
  resourceTypeName: string;
  serviceName: string;
  serviceCategory: string;
  serviceModel: 'IaaS' | 'PaaS' | 'SaaS';
  consumedService: string;
  meterCategory: string;
  meterSubCategory: string;
  meterName: string;
  serviceFamily: string;
  /** Unit of measure of actual/amortized files: `1 Hour`, `10K`, `1 GB/Month`. */
  unitOfMeasure: string;
  /** FOCUS PricingUnit / ConsumedUnit. */
  pricingUnit: string;
  consumedUnit: string;
  /** Consumed units per pricing unit (FOCUS x_PricingBlockSize). */
  blockSize: number;
  /** List (pay-as-you-go) price per pricing unit, USD. */
  listUnitPrice: number;
  usage: UsageProfile;
  namePrefix: string;
  /** Reservations exist for this kind (the first such resource gets one). */
  reservable: boolean;
  /** Extra AdditionalInfo / x_SkuDetails properties. */
  skuDetails?: Record<string, string | number>;
}

export const ARCHETYPES: readonly Archetype[] = [
  {
    key: 'vm',
    armType: 'Microsoft.Compute/virtualMachines',
    resourceTypeName: 'Virtual machine',
    serviceName: 'Virtual Machines',
    serviceCategory: 'Compute',
    serviceModel: 'IaaS',
    consumedService: 'Microsoft.Compute',
    meterCategory: 'Virtual Machines',
    meterSubCategory: 'Dsv5 Series',
    meterName: 'D4s v5',
    serviceFamily: 'Compute',
    unitOfMeasure: '1 Hour',
    pricingUnit: 'Hours',
    consumedUnit: 'Hours',
    blockSize: 1,
    listUnitPrice: 0.192,
    usage: { kind: 'alwaysOn', unitsPerHour: 1 },
    namePrefix: 'vm',
    reservable: true,
    skuDetails: { ServiceType: 'Standard_D4s_v5', VCPUs: 4, UsageType: 'ComputeHR', ImageType: 'Canonical' },
  },
  {
    key: 'devvm',
    armType: 'Microsoft.Compute/virtualMachines',
    resourceTypeName: 'Virtual machine',
    serviceName: 'Virtual Machines',
    serviceCategory: 'Compute',
    serviceModel: 'IaaS',
    consumedService: 'Microsoft.Compute',
    meterCategory: 'Virtual Machines',
    meterSubCategory: 'BS Series',
    meterName: 'B2s',
    serviceFamily: 'Compute',
    unitOfMeasure: '1 Hour',
    pricingUnit: 'Hours',
    consumedUnit: 'Hours',
    blockSize: 1,
    listUnitPrice: 0.0416,
    usage: { kind: 'office', unitsPerHour: 1 },
    namePrefix: 'vmdev',
    reservable: false,
    skuDetails: {
      ServiceType: 'Standard_B2s',
      VCPUs: 2,
      UsageType: 'ComputeHR',
      ImageType: 'Windows Server',
    },
  },
  {
    key: 'disk',
    armType: 'Microsoft.Compute/disks',
    resourceTypeName: 'Disk',
    serviceName: 'Storage',
    serviceCategory: 'Storage',
    serviceModel: 'IaaS',
    consumedService: 'Microsoft.Compute',
    meterCategory: 'Storage',
    meterSubCategory: 'Premium SSD Managed Disks',
    meterName: 'P10 LRS Disk',
    serviceFamily: 'Storage',
    unitOfMeasure: '1/Month',
    pricingUnit: 'Units/Month',
    consumedUnit: 'Units/Month',
    blockSize: 1,
    listUnitPrice: 19.71,
    usage: { kind: 'monthlyCapacity', base: 1, spread: 0 },
    namePrefix: 'disk',
    reservable: false,
  },
  {
    key: 'storage',
    armType: 'Microsoft.Storage/storageAccounts',
    resourceTypeName: 'Storage account',
    serviceName: 'Storage',
    serviceCategory: 'Storage',
    serviceModel: 'PaaS',
    consumedService: 'Microsoft.Storage',
    meterCategory: 'Storage',
    meterSubCategory: 'Tiered Block Blob',
    meterName: 'Hot LRS Data Stored',
    serviceFamily: 'Storage',
    unitOfMeasure: '1 GB/Month',
    pricingUnit: 'GB/Month',
    consumedUnit: 'GB/Month',
    blockSize: 1,
    listUnitPrice: 0.0184,
    usage: { kind: 'monthlyCapacity', base: 800, spread: 400 },
    namePrefix: 'st',
    reservable: false,
  },
  {
    key: 'sql',
    armType: 'Microsoft.Sql/servers/databases',
    resourceTypeName: 'SQL database',
    serviceName: 'Azure SQL Database',
    serviceCategory: 'Databases',
    serviceModel: 'PaaS',
    consumedService: 'Microsoft.Sql',
    meterCategory: 'SQL Database',
    meterSubCategory: 'General Purpose - Compute Gen5',
    meterName: 'vCore',
    serviceFamily: 'Databases',
    unitOfMeasure: '1 Hour',
    pricingUnit: 'Hours',
    consumedUnit: 'Hours',
    blockSize: 1,
    listUnitPrice: 0.2522,
    usage: { kind: 'alwaysOn', unitsPerHour: 2 },
    namePrefix: 'sqldb',
    reservable: false,
  },
  {
    key: 'appservice',
    armType: 'Microsoft.Web/serverFarms',
    resourceTypeName: 'App Service plan',
    serviceName: 'Azure App Service',
    serviceCategory: 'Web',
    serviceModel: 'PaaS',
    consumedService: 'Microsoft.Web',
    meterCategory: 'Azure App Service',
    meterSubCategory: 'Premium v3 Plan',
    meterName: 'P1 v3 App',
    serviceFamily: 'Compute',
    unitOfMeasure: '1 Hour',
    pricingUnit: 'Hours',
    consumedUnit: 'Hours',
    blockSize: 1,
    listUnitPrice: 0.2,
    usage: { kind: 'alwaysOn', unitsPerHour: 1 },
    namePrefix: 'asp',
    reservable: false,
  },
  {
    key: 'keyvault',
    armType: 'Microsoft.KeyVault/vaults',
    resourceTypeName: 'Key vault',
    serviceName: 'Key Vault',
    serviceCategory: 'Security',
    serviceModel: 'PaaS',
    consumedService: 'Microsoft.KeyVault',
    meterCategory: 'Key Vault',
    meterSubCategory: '',
    meterName: 'Operations',
    serviceFamily: 'Security',
    unitOfMeasure: '10K',
    pricingUnit: 'Operations',
    consumedUnit: 'Operations',
    blockSize: 10_000,
    listUnitPrice: 0.03,
    usage: { kind: 'volume', min: 0.5, max: 12 },
    namePrefix: 'kv',
    reservable: false,
  },
  {
    key: 'loganalytics',
    armType: 'Microsoft.OperationalInsights/workspaces',
    resourceTypeName: 'Log Analytics workspace',
    serviceName: 'Log Analytics',
    serviceCategory: 'Management and Governance',
    serviceModel: 'PaaS',
    consumedService: 'Microsoft.OperationalInsights',
    meterCategory: 'Log Analytics',
    meterSubCategory: '',
    meterName: 'Analytics Logs Data Ingestion',
    serviceFamily: 'Management and Governance',
    unitOfMeasure: '1 GB',
    pricingUnit: 'GB',
    consumedUnit: 'GB',
    blockSize: 1,
    listUnitPrice: 2.3,
    usage: { kind: 'volume', min: 0.2, max: 6 },
    namePrefix: 'log',
    reservable: false,
  },
  {
    key: 'aks',
    armType: 'Microsoft.ContainerService/managedClusters',
    resourceTypeName: 'Kubernetes service',
    serviceName: 'Azure Kubernetes Service',
    serviceCategory: 'Containers',
    serviceModel: 'PaaS',
    consumedService: 'Microsoft.ContainerService',
    meterCategory: 'Azure Kubernetes Service',
    meterSubCategory: 'Standard',
    meterName: 'Standard Uptime SLA',
    serviceFamily: 'Compute',
    unitOfMeasure: '1 Hour',
    pricingUnit: 'Hours',
    consumedUnit: 'Hours',
    blockSize: 1,
    listUnitPrice: 0.1,
    usage: { kind: 'alwaysOn', unitsPerHour: 1 },
    namePrefix: 'aks',
    reservable: false,
  },
  {
    key: 'cosmos',
    armType: 'Microsoft.DocumentDB/databaseAccounts',
    resourceTypeName: 'Azure Cosmos DB account',
    serviceName: 'Azure Cosmos DB',
    serviceCategory: 'Databases',
    serviceModel: 'PaaS',
    consumedService: 'Microsoft.DocumentDB',
    meterCategory: 'Azure Cosmos DB',
    meterSubCategory: 'Azure Cosmos DB',
    meterName: '100 RU/s',
    serviceFamily: 'Databases',
    unitOfMeasure: '100/Hour',
    pricingUnit: 'RU/s Hours',
    consumedUnit: 'RU/s Hours',
    blockSize: 100,
    listUnitPrice: 0.008,
    usage: { kind: 'alwaysOn', unitsPerHour: 4 },
    namePrefix: 'cosmos',
    reservable: false,
  },
  {
    key: 'publicip',
    armType: 'Microsoft.Network/publicIPAddresses',
    resourceTypeName: 'Public IP address',
    serviceName: 'Virtual Network',
    serviceCategory: 'Networking',
    serviceModel: 'IaaS',
    consumedService: 'Microsoft.Network',
    meterCategory: 'Virtual Network',
    meterSubCategory: 'IP Addresses',
    meterName: 'Standard IPv4 Static Public IP',
    serviceFamily: 'Networking',
    unitOfMeasure: '1 Hour',
    pricingUnit: 'Hours',
    consumedUnit: 'Hours',
    blockSize: 1,
    listUnitPrice: 0.005,
    usage: { kind: 'alwaysOn', unitsPerHour: 1 },
    namePrefix: 'pip',
    reservable: false,
  },
];

export const RESOURCE_GROUPS: readonly { name: string; env: string; app: string }[] = [
  { name: 'rg-web-prod', env: 'prod', app: 'web' },
  { name: 'rg-data-prod', env: 'prod', app: 'data' },
  { name: 'rg-shared-services', env: 'prod', app: 'shared' },
  { name: 'rg-api-test', env: 'test', app: 'api' },
  { name: 'rg-dev-sandbox', env: 'dev', app: 'sandbox' },
  { name: 'rg-analytics', env: 'prod', app: 'analytics' },
];

export const SUBSCRIPTION_NAMES: readonly string[] = [
  'Contoso Production',
  'Contoso Dev/Test',
  'Contoso Shared Platform',
  'Contoso Analytics',
];

export const COST_CENTERS: readonly string[] = ['CC-1042', 'CC-2077', 'CC-3310'];

export const OWNERS: readonly string[] = [
  'platform-team@contoso.com',
  'data-team@contoso.com',
  'web@contoso.com',
];
