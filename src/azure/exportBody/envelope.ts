// The parts of an export body around its data: the description, the location of the managed
// identity that delivers it, and the eTag an update of an existing export needs.
import { isRecord } from '../../domain/json';
import type { Problems } from './problems';

/** Our own bound: the spec gives none, and a description is a label, not a document. */
export const MAX_DESCRIPTION_LENGTH = 1000;
const LOCATION = /^[a-z][a-z0-9]{1,39}$/;

/** The description to send: undefined when absent or blank. */
export function checkDescription(problems: Problems, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > MAX_DESCRIPTION_LENGTH) {
    problems.add('description', `expected a string of at most ${MAX_DESCRIPTION_LENGTH} characters`);
    return undefined;
  }
  return value.trim() !== '' ? value : undefined;
}

/** The managed identity's region, normalised (`Central US` → `centralus`); undefined when not asked for. */
export function checkIdentityLocation(problems: Problems, managedIdentity: unknown): string | undefined {
  if (managedIdentity === undefined) return undefined;
  const raw: unknown = isRecord(managedIdentity) ? managedIdentity.location : undefined;
  const normalised = typeof raw === 'string' ? raw.trim().toLowerCase().replace(/\s+/g, '') : '';
  if (LOCATION.test(normalised)) return normalised;
  problems.add(
    'managedIdentity.location',
    `expected an Azure region name like centralus, got ${JSON.stringify(raw)}`,
  );
  return undefined;
}

/** The eTag from a GET, when one is given. */
export function checkETag(problems: Problems, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && value.trim() !== '') return value;
  problems.add('eTag', 'expected the non-empty eTag string from a GET');
  return undefined;
}
