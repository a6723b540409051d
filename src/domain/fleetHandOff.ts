// The URLs a consumer of an assignment's exports needs for one scope (Flexera CSP bill connect, FinOps
// hubs), so nobody assembles them by hand. Pure: no I/O.
import { desiredExport, type ExportProfile, exportsForScope } from './exportProfile';
import { type Assignment, destinationAccount } from './fleetAssignment';
import { parseScope } from './scope';

export interface HandOff {
  scope: string;
  storageAccount: string;
  container: string;
  storageTenantId?: string;
  /** Flexera CSP bill connect: one URL per export, `https://{account}.blob.core.windows.net/{container}/{directory}/{export}`. */
  exportUrls: Record<string, string>;
  /** FinOps hubs: the folder its ingestion reads (container + root folder). */
  finopsHubsFolders: string[];
}

/** The URLs a consumer needs for a scope, so nobody assembles them by hand. */
export function handOffFor(profile: ExportProfile, assignment: Assignment, scopeText: string): HandOff {
  const scope = parseScope(scopeText);
  const d = assignment.destination;
  const account = destinationAccount(d);
  const exportUrls: Record<string, string> = {};
  const folders = new Set<string>();
  for (const e of exportsForScope(profile, scope).exports) {
    const desired = desiredExport(profile, e, {
      scope,
      assignmentId: assignment.id,
      destination: d,
      rootFolderTemplate: assignment.rootFolderTemplate,
    });
    const path = [d.container, desired.destination.rootFolderPath, desired.name]
      .filter(Boolean)
      .map(encodePath)
      .join('/');
    exportUrls[e.key] = `https://${account}.blob.core.windows.net/${path}`;
    folders.add([d.container, desired.destination.rootFolderPath].filter(Boolean).join('/'));
  }
  return {
    scope: scope.canonical,
    storageAccount: account,
    container: d.container,
    ...(d.storageTenantId ? { storageTenantId: d.storageTenantId } : {}),
    exportUrls,
    finopsHubsFolders: [...folders],
  };
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}
