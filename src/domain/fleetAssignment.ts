// An assignment of the export fleet (a profile + destination for one scope, or for every customer
// of a partner billing account) and the request that creates one: its shape, every field checked,
// and its stable id. Pure: no I/O.
import { createHash } from 'node:crypto';

import {
  DEFAULT_ROOT_FOLDER_TEMPLATE,
  type DestinationSpec,
  type FieldProblem,
  rootFolderTemplateProblems,
} from './exportProfile';
import { isRecord } from './json';
import { billingAgreement, parseScope, ScopeError, scopeKey } from './scope';

export type AssignmentTarget = { scope: string } | { billingAccountId: string };

export interface Assignment {
  id: string;
  target: AssignmentTarget;
  profile: string;
  destination: DestinationSpec & { storageTenantId?: string };
  rootFolderTemplate: string;
  createdAt: string;
}

export interface AssignmentRequest {
  id?: string;
  target: AssignmentTarget;
  profile: string;
  destination: Assignment['destination'];
  rootFolderTemplate: string;
}

/** A request the app refuses: HTTP status, a code, and every offending field. */
export class FleetRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: FieldProblem[] = [],
  ) {
    super(message);
    this.name = 'FleetRequestError';
  }
}

/** 400 InvalidRequest naming every field. */
export function invalidRequest(fields: FieldProblem[]): FleetRequestError {
  return new FleetRequestError(
    400,
    'InvalidRequest',
    fields.map((f) => `${f.field}: ${f.message}`).join('; '),
    fields,
  );
}

const ID = /^[a-z0-9][a-z0-9-]{1,62}$/;
const ACCOUNT = /^[a-z0-9]{3,24}$/;
const CONTAINER = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const STORAGE_RESOURCE_ID =
  /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[-\w.()]{1,90}\/providers\/Microsoft\.Storage\/storageAccounts\/([a-z0-9]{3,24})$/i;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `id` could name an assignment (2-63 lower-case letters, digits and hyphens). */
export function isAssignmentId(id: string): boolean {
  return ID.test(id);
}

/** The storage account a destination writes to (its name, or the last segment of its resource id). */
export function destinationAccount(destination: Assignment['destination']): string {
  return 'storageAccount' in destination
    ? destination.storageAccount
    : STORAGE_RESOURCE_ID.exec(destination.resourceId)![1]!.toLowerCase();
}

/** The request's shape, every field checked; no I/O. */
export function parseAssignmentRequest(body: unknown): AssignmentRequest {
  if (!isRecord(body)) throw invalidRequest([{ field: 'body', message: 'expected a JSON object' }]);
  const problems: FieldProblem[] = [];
  const target = parseTarget(problems, body);
  if (typeof body.profile !== 'string' || body.profile === '') {
    problems.push({ field: 'profile', message: 'expected a profile name, e.g. flexera-csp or finops-hubs' });
  }
  if (body.id !== undefined && (typeof body.id !== 'string' || !ID.test(body.id))) {
    problems.push({ field: 'id', message: 'expected 2-63 lower-case letters, digits and hyphens' });
  }
  const destination = parseDestination(problems, body.destination);
  const template = body.rootFolderTemplate ?? DEFAULT_ROOT_FOLDER_TEMPLATE;
  problems.push(...rootFolderTemplateProblems(template));
  if (problems.length > 0 || !target || !destination) throw invalidRequest(problems);
  return {
    ...(typeof body.id === 'string' ? { id: body.id } : {}),
    target,
    profile: body.profile as string,
    destination,
    rootFolderTemplate: template as string,
  };
}

/** Exactly one of `scope` and `billingAccountId`. */
function parseTarget(problems: FieldProblem[], body: Record<string, unknown>): AssignmentTarget | undefined {
  if ((body.scope === undefined) === (body.billingAccountId === undefined)) {
    problems.push({
      field: 'scope',
      message: 'give either scope or billingAccountId (every customer of it)',
    });
    return undefined;
  }
  return body.scope !== undefined
    ? parseScopeTarget(problems, body.scope)
    : parseCustomersTarget(problems, body.billingAccountId);
}

function parseScopeTarget(problems: FieldProblem[], value: unknown): AssignmentTarget | undefined {
  try {
    if (typeof value !== 'string') throw new ScopeError('expected a scope path, e.g. /subscriptions/{id}');
    return { scope: parseScope(value).canonical };
  } catch (error) {
    problems.push({ field: 'scope', message: error instanceof ScopeError ? error.message : 'not a scope' });
    return undefined;
  }
}

function parseCustomersTarget(problems: FieldProblem[], value: unknown): AssignmentTarget | undefined {
  try {
    if (typeof value !== 'string') throw new ScopeError('expected a billing account id');
    const account = parseScope(`/providers/Microsoft.Billing/billingAccounts/${value}`);
    if (billingAgreement(account) !== 'MCA') {
      problems.push({
        field: 'billingAccountId',
        message: 'only Microsoft Partner Agreement accounts ({guid}:{guid}_{yyyy-mm-dd}) list customers',
      });
      return undefined;
    }
    return { billingAccountId: account.billingAccountId! };
  } catch (error) {
    problems.push({
      field: 'billingAccountId',
      message: error instanceof ScopeError ? error.message.replace(/^scope "[^"]*": /, '') : 'not valid',
    });
    return undefined;
  }
}

function parseDestination(problems: FieldProblem[], value: unknown): Assignment['destination'] | undefined {
  if (!isRecord(value)) {
    problems.push({
      field: 'destination',
      message: 'expected { storageAccount, container } (a registered SAS token) or { resourceId, container }',
    });
    return undefined;
  }
  const before = problems.length;
  checkDestinationCommon(problems, value);
  const tenant =
    typeof value.storageTenantId === 'string' ? { storageTenantId: value.storageTenantId.toLowerCase() } : {};
  if ((value.storageAccount === undefined) === (value.resourceId === undefined)) {
    problems.push({ field: 'destination', message: 'give either storageAccount or resourceId' });
    return undefined;
  }
  if (value.storageAccount !== undefined) {
    if (!(typeof value.storageAccount === 'string' && ACCOUNT.test(value.storageAccount))) {
      problems.push({
        field: 'destination.storageAccount',
        message: 'expected 3-24 lower-case letters and digits',
      });
    }
    if (problems.length > before) return undefined;
    return {
      storageAccount: value.storageAccount as string,
      container: value.container as string,
      ...tenant,
    };
  }
  if (!(typeof value.resourceId === 'string' && STORAGE_RESOURCE_ID.test(value.resourceId))) {
    problems.push({
      field: 'destination.resourceId',
      message:
        'expected /subscriptions/{guid}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}',
    });
  }
  if (problems.length > before) return undefined;
  return { resourceId: value.resourceId as string, container: value.container as string, ...tenant };
}

/** The fields both destination kinds share: container, storage tenant, and no SAS token inline. */
function checkDestinationCommon(problems: FieldProblem[], value: Record<string, unknown>): void {
  if (!(typeof value.container === 'string' && CONTAINER.test(value.container))) {
    problems.push({
      field: 'destination.container',
      message: `expected a container name (3-63 lower-case letters, digits, single hyphens), got ${JSON.stringify(value.container)}`,
    });
  }
  if (
    value.storageTenantId !== undefined &&
    !(typeof value.storageTenantId === 'string' && GUID.test(value.storageTenantId))
  ) {
    problems.push({
      field: 'destination.storageTenantId',
      message: 'expected the storage tenant id (a GUID)',
    });
  }
  if ('sasToken' in value) {
    problems.push({
      field: 'destination.sasToken',
      message:
        'not accepted here: register the token with POST /api/tokens, the fleet uses the account current one',
    });
  }
}

/** The same request always gets the same id (profile + target), so creating it twice is one assignment. */
export function assignmentIdFor(request: Pick<AssignmentRequest, 'profile' | 'target'>): string {
  const target =
    'scope' in request.target
      ? scopeKey(request.target.scope)
      : `customers|${request.target.billingAccountId.toLowerCase()}`;
  const hash = createHash('sha256').update(`${request.profile}\n${target}`).digest('hex').slice(0, 10);
  return `${request.profile}-${hash}`.slice(0, 63);
}
