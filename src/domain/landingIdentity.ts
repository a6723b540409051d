// Where a landing is filed when its manifest cannot be taken as it is: the identities a rejected
// manifest may be catalogued under (best first) and the rejected row itself. Pure.
import { createHash } from 'node:crypto';

import { type LandingRecord, pathFacts } from './landingPlan';
import { redactSecrets } from './redact';
import { parseExportResourceId } from './scope';

const UNKNOWN_EXPORT = '(unknown)';
const UNKNOWN_PERIOD = 'unknown';

/** What names one landing: its export (under a scope, when known) and its period and run. */
export interface LandingIdentity {
  /** Canonical scope, or undefined for the unresolved partition. */
  scope?: string;
  exportName: string;
  period: string;
  runId: string;
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function pathHash(path: string): string {
  return `m-${createHash('sha256').update(path).digest('hex').slice(0, 32)}`;
}

/** Where a rejected manifest is filed, best first: its scope and export (when `exportConfig.resourceId`
 * still parses), the folder layout, and finally a hash of its path. Each is validated before use. */
export function rejectionIdentities(
  content: Buffer | string,
  manifestPath: string,
  parsed?: LandingIdentity,
  /** False when the manifest's claims contradict its folder: it is filed by its path alone, never
   * under the scope or export it names. */
  trustContent = true,
): LandingIdentity[] {
  const facts = pathFacts(manifestPath);
  const runId =
    facts.runFolder && SAFE_ID.test(facts.runFolder) ? facts.runFolder.toLowerCase() : pathHash(manifestPath);
  const period = facts.period ?? UNKNOWN_PERIOD;
  const candidates: LandingIdentity[] = [];
  if (parsed) candidates.push(parsed);
  const fromJson = trustContent ? lenientExportIdentity(content) : undefined;
  if (fromJson) candidates.push({ ...fromJson, period, runId });
  const exportName = facts.exportName ?? fromJson?.exportName ?? UNKNOWN_EXPORT;
  candidates.push({ exportName, period, runId });
  candidates.push({ exportName: UNKNOWN_EXPORT, period: UNKNOWN_PERIOD, runId: pathHash(manifestPath) });
  return candidates;
}

/** Scope and export name from `exportConfig.resourceId`, read without validating anything else. */
function lenientExportIdentity(content: Buffer | string): { scope: string; exportName: string } | undefined {
  try {
    const text = typeof content === 'string' ? content : content.toString('utf8');
    if (text.length > 32 * 1024 * 1024) return undefined;
    const doc: unknown = JSON.parse(text.replace(/^\uFEFF/, ''));
    if (typeof doc !== 'object' || doc === null) return undefined;
    const config = (doc as { exportConfig?: unknown }).exportConfig;
    if (typeof config !== 'object' || config === null) return undefined;
    const resourceId = (config as { resourceId?: unknown }).resourceId;
    if (typeof resourceId !== 'string' || resourceId.length > 2048) return undefined;
    const { scope, exportName } = parseExportResourceId(resourceId);
    return { scope: scope.canonical, exportName };
  } catch {
    return undefined;
  }
}

export function rejectedRecord(
  identity: LandingIdentity,
  manifestPath: string,
  reason: string,
  catalogedAt: string,
): LandingRecord {
  return {
    scope: identity.scope ?? '',
    exportName: identity.exportName,
    period: identity.period,
    runId: identity.runId,
    manifestPath,
    blobCount: 0,
    rowCount: 0,
    totalBytes: 0,
    state: 'rejected',
    rejectionReason: redactSecrets(reason).slice(0, 2_000),
    missingBlobs: [],
    missingBlobCount: 0,
    superseded: false,
    current: false,
    catalogedAt,
  };
}
