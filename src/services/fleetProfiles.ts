// The fleet's export profiles: the built-in ones and the custom ones kept in the fleet table.
import type { FleetStoreApi } from '../azure/fleetStore';
import {
  BUILT_IN_PROFILES,
  type ExportProfile,
  parseProfile,
  ProfileInputError,
} from '../domain/exportProfile';
import { FleetRequestError, invalidRequest } from '../domain/fleetAssignment';
import { listAssignments, PROFILE_PK } from './fleetRows';

export async function findProfile(store: FleetStoreApi, name: string): Promise<ExportProfile | undefined> {
  return BUILT_IN_PROFILES.find((p) => p.name === name) ?? (await store.get<ExportProfile>(PROFILE_PK, name));
}

export async function listProfiles(store: FleetStoreApi): Promise<ExportProfile[]> {
  return [...BUILT_IN_PROFILES, ...(await store.list<ExportProfile>(PROFILE_PK))];
}

export async function saveProfile(store: FleetStoreApi, body: unknown): Promise<ExportProfile> {
  let profile: ExportProfile;
  try {
    profile = parseProfile(body);
  } catch (error) {
    if (error instanceof ProfileInputError) throw invalidRequest(error.problems);
    throw error;
  }
  await store.put(PROFILE_PK, profile.name, profile);
  return profile;
}

export async function deleteProfile(store: FleetStoreApi, name: string): Promise<void> {
  if (BUILT_IN_PROFILES.some((p) => p.name === name)) {
    throw new FleetRequestError(409, 'BuiltInProfile', `${name} is built in and cannot be deleted`, [
      { field: 'name', message: 'built-in profile' },
    ]);
  }
  const users = (await listAssignments(store)).filter((a) => a.profile === name).map((a) => a.id);
  if (users.length > 0) {
    throw new FleetRequestError(409, 'ProfileInUse', `profile ${name} is used by ${users.join(', ')}`, [
      { field: 'name', message: `used by assignment(s) ${users.slice(0, 10).join(', ')}` },
    ]);
  }
  if (!(await store.remove(PROFILE_PK, name))) {
    throw new FleetRequestError(404, 'ProfileNotFound', `no profile ${name}`);
  }
}
