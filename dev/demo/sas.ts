// An account SAS for the local Azurite account, signed with its well-known development key: what a
// partner would create in the portal for their exports storage account (blob service; service,
// container and object resource types; read/write/delete/list/add/create).
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  generateAccountSASQueryParameters,
  SASProtocol,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';

import { AZURITE_ACCOUNT, AZURITE_KEY } from '../azurite';

const DAY_MS = 86_400_000;

/** The token's query string (no leading `?`). HTTP is allowed because Azurite listens on plain http. */
export function azuriteAccountSas(now: Date, validDays = 90): string {
  return generateAccountSASQueryParameters(
    {
      services: AccountSASServices.parse('b').toString(),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
      permissions: AccountSASPermissions.parse('rwdlac'),
      protocol: SASProtocol.HttpsAndHttp,
      startsOn: new Date(now.getTime() - 5 * 60_000),
      expiresOn: new Date(now.getTime() + validDays * DAY_MS),
    },
    new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
  ).toString();
}
