// Tables in the catalog's storage account that adapters other than the Catalog read and write.
// Catalog.ensureTables creates them with its own, so one start leaves a fresh account with every
// table the app uses (a deployment check or a read before the first write finds them there).
export const ALERT_STATE_TABLE = 'alertState';
export const FLEET_TABLE = 'fleet';
export const THROTTLE_BUDGET_TABLE = 'throttlebudget';

export const ADAPTER_TABLES: readonly string[] = [ALERT_STATE_TABLE, FLEET_TABLE, THROTTLE_BUDGET_TABLE];
