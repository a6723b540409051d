// Blob trigger on the exports container: every manifest.json (and legacy _manifest.json) that lands is
// catalogued by services/landings.ts, and the backfill waiting for it is woken through the durable
// client binding. Other blobs (the partition files) return at once without any I/O.
//
// Source: EventGrid by default, the only blob trigger that scales on Flex Consumption (infra wires
// the subscription, filtered to `manifest.json` subjects); LANDING_TRIGGER_SOURCE=LogsAndContainerScan
// for local runs. Registration happens at import, so the setting is read here with a safe default and
// never throws; the full settings are validated on the first invocation.
//
// Retries: a failed invocation (storage unavailable, an incomplete run folder) is retried by the blob
// trigger's own policy (5 attempts, then the poison queue); the registration `retry` option is not
// supported for blob triggers. Every write is idempotent, so a retry repeats nothing twice.
import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';

import { raiseEventTo } from '../azure/durableClient';
import type { LandingTriggerSource } from '../config';
import { isManifestBlobName } from '../domain/manifest';
import { redactMessage } from '../domain/redact';
import { appService } from '../services/appServices';
import { LandingIncompleteError, LandingService } from '../services/landings';

export const EXPORT_LANDED_FUNCTION = 'exportLanded';

/** The trigger source for a LANDING_TRIGGER_SOURCE value: EventGrid unless it says otherwise. */
export function landingTriggerSource(value: string | undefined): LandingTriggerSource {
  return value?.trim().toLowerCase() === 'logsandcontainerscan' ? 'LogsAndContainerScan' : 'EventGrid';
}

const durableClient = df.input.durableClient();

/** Splits the host's `blobTrigger` metadata (`container/name`) into its parts. */
export function blobLocation(
  context: InvocationContext,
): { container: string; blobName: string } | undefined {
  const metadata = context.triggerMetadata ?? {};
  const full = metadata.blobTrigger ?? metadata.BlobTrigger;
  if (typeof full === 'string') {
    const clean = full.replace(/^\/+/, '');
    const slash = clean.indexOf('/');
    if (slash > 0) return { container: clean.slice(0, slash), blobName: clean.slice(slash + 1) };
  }
  return undefined;
}

export async function exportLandedHandler(blob: unknown, context: InvocationContext): Promise<void> {
  const location = blobLocation(context);
  if (!location) {
    context.error('exportLanded: trigger metadata carries no blobTrigger path; nothing to do');
    return;
  }
  // Partition files fire this trigger too (LogsAndContainerScan sees every blob): no I/O for them.
  if (!isManifestBlobName(location.blobName)) return;
  const content = Buffer.isBuffer(blob) ? blob : typeof blob === 'string' ? blob : undefined;
  if (content === undefined) {
    context.error(`exportLanded: ${location.blobName}: the trigger delivered no blob content`);
    return;
  }

  const { blobsIn, ...adapters } = await appService('landings');
  const ledger = await appService('ledger');
  const service = new LandingService({
    ...adapters,
    blobs: blobsIn(location.container),
    raiseEvent: (instanceId, eventName, payload) =>
      raiseEventTo(df.getClient(context), instanceId, eventName, payload),
    log: {
      info: (m) => context.log(m),
      warn: (m) => context.warn(m),
      error: (m) => context.error(m),
    },
  });
  try {
    // A rejected manifest is logged as an error by the service and returns normally: retrying
    // cannot fix it, and its rejected landing row says why.
    const outcome = await service.catalogue({ ...location, content });
    // The month's ledger cell, right after the landing row: a redelivery that changed nothing is not
    // counted twice. Should this write fail, the host retries the event and the write is repeated.
    if (outcome.kind !== 'ignored' && outcome.resolved && (outcome.created || outcome.changed)) {
      await ledger.recordLandingAt(outcome.landingKey);
    }
  } catch (error) {
    if (error instanceof LandingIncompleteError) context.warn(error.message);
    else context.error(`exportLanded: ${redactMessage(error)}`);
    throw error; // what could be recorded is; the host retries (every write is idempotent)
  }
}

app.storageBlob(EXPORT_LANDED_FUNCTION, {
  path: '%EXPORTS_CONTAINER%/{blobPath}',
  connection: 'ExportsStorage',
  source: landingTriggerSource(process.env.LANDING_TRIGGER_SOURCE),
  extraInputs: [durableClient],
  handler: exportLandedHandler,
});
