// The delivery destination of an export: a storage account by resource id (managed identity) or by
// name with a SAS token, a container, and a root folder Cost Management accepts.
import { isRecord } from '../../domain/json';
import { normaliseFolder, rootFolderPathProblem, toRootFolderPath } from '../../domain/rootFolderPath';
import type { ExportDestinationBody } from '../exportModels';
import type { Problems } from './problems';

const CONTAINER = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const STORAGE_ACCOUNT = /^[a-z0-9]{3,24}$/;
const STORAGE_RESOURCE_ID =
  /^\/subscriptions\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/resourceGroups\/[-\w.()]{1,90}\/providers\/Microsoft\.Storage\/storageAccounts\/[a-z0-9]{3,24}$/i;

/** Checks `destination` (resource id XOR storage account with SAS, container, root folder). */
export function buildDestination(problems: Problems, value: unknown): ExportDestinationBody | undefined {
  if (!isRecord(value)) {
    problems.add(
      'destination',
      'expected { resourceId, container } or { storageAccount, sasToken, container }',
    );
    return undefined;
  }
  const destination: ExportDestinationBody = { type: 'AzureBlob', container: '' };
  const hasResourceId = value.resourceId !== undefined;
  const hasSas = value.storageAccount !== undefined || value.sasToken !== undefined;
  if (hasResourceId && hasSas) {
    problems.add('destination', 'give either resourceId, or storageAccount with sasToken, not both');
  } else if (hasResourceId) {
    if (typeof value.resourceId === 'string' && STORAGE_RESOURCE_ID.test(value.resourceId)) {
      destination.resourceId = value.resourceId;
    } else {
      problems.add(
        'destination.resourceId',
        `expected a storage account resource id /subscriptions/{guid}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}, got ${JSON.stringify(value.resourceId)}`,
      );
    }
  } else if (hasSas) {
    if (typeof value.storageAccount === 'string' && STORAGE_ACCOUNT.test(value.storageAccount)) {
      destination.storageAccount = value.storageAccount;
    } else {
      problems.add(
        'destination.storageAccount',
        `expected a storage account name (3-24 lower-case letters and digits), got ${JSON.stringify(value.storageAccount)}`,
      );
    }
    const sas = typeof value.sasToken === 'string' ? value.sasToken.trim().replace(/^\?/, '') : undefined;
    // Never echo the token: it is a credential.
    if (!sas) problems.add('destination.sasToken', 'required with storageAccount (value not shown)');
    else if (!isSasToken(sas)) {
      problems.add('destination.sasToken', 'is not a SAS token: expected sv=…&…&sig=… (value not shown)');
    } else destination.sasToken = sas;
  } else {
    problems.add('destination', 'needs resourceId, or storageAccount with sasToken');
  }

  if (typeof value.container === 'string' && CONTAINER.test(value.container)) {
    destination.container = value.container;
  } else {
    problems.add(
      'destination.container',
      `expected a container name (3-63 lower-case letters, digits, single hyphens), got ${JSON.stringify(value.container)}`,
    );
  }
  if (value.rootFolderPath !== undefined) {
    const root = rootFolder(problems, value.rootFolderPath);
    if (root) destination.rootFolderPath = root;
  }
  return destination;
}

function isSasToken(token: string): boolean {
  const params = new URLSearchParams(token);
  return Boolean(params.get('sv') && params.get('sig'));
}

function rootFolder(problems: Problems, value: unknown): string | undefined {
  const field = 'destination.rootFolderPath';
  if (typeof value !== 'string') {
    problems.add(field, `expected a string, got ${JSON.stringify(value)}`);
    return undefined;
  }
  // A leading or trailing "/" names the same folder; the service refuses a leading one, so drop both.
  const trimmed = normaliseFolder(value.trim());
  if (trimmed === '') return undefined;
  const problem = rootFolderPathProblem(trimmed);
  if (problem) {
    const suggestion = toRootFolderPath(trimmed);
    problems.add(
      field,
      `${problem}; Cost Management refuses such paths${suggestion ? ` (for example use "${suggestion}")` : ''}`,
    );
    return undefined;
  }
  return trimmed;
}
