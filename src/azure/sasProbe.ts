// The live probe: before a SAS token is stored or pushed to exports, prove it works by doing what
// Cost Management will do with it — create, read, list and delete a small blob in the destination
// container. Parsing tells what a token claims; only the storage service knows whether its signature
// is valid (right key, key not rotated, stored access policy intact) and whether the container exists.
// Results carry step names, HTTP statuses and storage error codes: never the token or the SDK's
// request (whose URL holds the signature).
import { randomBytes } from 'node:crypto';
import { rootCertificates } from 'node:tls';

import { isRestError } from '@azure/core-rest-pipeline';
import { AnonymousCredential, ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';

import { redactSecrets } from '../domain/redact';
import { normalizeSasToken } from '../domain/sasToken';

export type ProbeStep = 'create' | 'read' | 'list' | 'delete';

export interface ProbeStepResult {
  step: ProbeStep;
  ok: boolean;
  status?: number;
  /** Storage error code, e.g. AuthorizationPermissionMismatch, AuthenticationFailed, ContainerNotFound. */
  code?: string;
}

export interface SasProbeResult {
  ok: boolean;
  /** The steps tried, in order; the probe stops at the first failure (but still tries to delete). */
  steps: ProbeStepResult[];
  failedStep?: ProbeStep;
  /** One line for people, e.g. `create failed: HTTP 403 AuthorizationFailure`. */
  message?: string;
  /** The probe blob could not be deleted and is still in the container. */
  leftBehind?: string;
}

export interface SasProbeTarget {
  storageAccount: string;
  container: string;
  sasToken: string;
}

export type SasProbe = (target: SasProbeTarget) => Promise<SasProbeResult>;

export interface SasProbeOptions {
  /** `https://{account}.blob.core.windows.net` in Azure (config `storage.blobEndpointTemplate`). */
  blobEndpointTemplate: string;
  /** An extra CA to trust (a loopback HTTPS Azurite in tests). */
  caPem?: string;
  /** Per step (create, read, list, delete), retries included. Default 10 s. */
  timeoutMs?: number;
}

const ACCOUNT = /^[a-z0-9]{3,24}$/;
const CONTAINER = /^(?!.*--)[a-z0-9$][a-z0-9-]{1,61}[a-z0-9]$/;
export const PROBE_PREFIX = 'cost-export-autopilot-probe/';
const PROBE_TEXT = 'cost-export-autopilot SAS probe; safe to delete\n';

/** The blob endpoint of `account` (no trailing slash). */
export function blobEndpointFor(template: string, account: string): string {
  if (!ACCOUNT.test(account)) {
    throw new TypeError(`storageAccount: expected 3-24 lower-case letters and digits, got "${account}"`);
  }
  return template.replace('{account}', account).replace(/\/+$/, '');
}

/** Builds the probe. Each call makes its own client: the token is in its URL and must not be cached. */
export function createSasProbe(options: SasProbeOptions): SasProbe {
  const timeoutMs = options.timeoutMs ?? 10_000;
  // `tlsOptions` is passed through to core-rest-pipeline's pipeline options (storage-blob's typings
  // omit it); it is how an extra CA is trusted without a process-wide NODE_EXTRA_CA_CERTS.
  const pipelineOptions = {
    retryOptions: { maxTries: 2, tryTimeoutInMs: timeoutMs, retryDelayInMs: 200, maxRetryDelayInMs: 1000 },
    ...(options.caPem ? { tlsOptions: { ca: [...rootCertificates, options.caPem] } } : {}),
  } as StoragePipelineOptions;

  return async (target) => {
    if (!CONTAINER.test(target.container)) {
      throw new TypeError(`container: expected a storage container name, got "${target.container}"`);
    }
    const endpoint = blobEndpointFor(options.blobEndpointTemplate, target.storageAccount);
    const query = normalizeSasToken(target.sasToken);
    const container = new ContainerClient(
      `${endpoint}/${target.container}?${query}`,
      new AnonymousCredential(),
      pipelineOptions,
    );
    const blobName = `${PROBE_PREFIX}${new Date().toISOString().replace(/[:.]/g, '')}-${randomBytes(4).toString('hex')}.txt`;
    const blob = container.getBlockBlobClient(blobName);
    const steps: ProbeStepResult[] = [];

    // Each step is aborted past its budget. storage-blob's `tryTimeoutInMs` only sends the service
    // a `timeout=` parameter (StorageRetryPolicyV2); it never abandons a try on the client, so an
    // account that accepts the connection and never answers held the probe (and the HTTP
    // request that asked for it) forever.
    const run = async (
      step: ProbeStep,
      action: (abortSignal: AbortSignal) => Promise<boolean>,
    ): Promise<boolean> => {
      try {
        const ok = await action(AbortSignal.timeout(timeoutMs));
        steps.push(ok ? { step, ok } : { step, ok, code: step === 'read' ? 'ContentMismatch' : 'NotListed' });
        return ok;
      } catch (error) {
        steps.push({ step, ok: false, ...describeFailure(error) });
        return false;
      }
    };

    const created = await run('create', async (abortSignal) => {
      await blob.upload(PROBE_TEXT, Buffer.byteLength(PROBE_TEXT), {
        blobHTTPHeaders: { blobContentType: 'text/plain' },
        abortSignal,
      });
      return true;
    });
    let fine = created;
    if (fine) {
      fine = await run(
        'read',
        async (abortSignal) =>
          (await blob.downloadToBuffer(0, undefined, { abortSignal })).toString('utf8') === PROBE_TEXT,
      );
    }
    if (fine) {
      fine = await run('list', async (abortSignal) => {
        for await (const item of container.listBlobsFlat({ prefix: blobName, abortSignal })) {
          if (item.name === blobName) return true;
        }
        return false;
      });
    }
    // Delete whenever the blob was created, so a token that fails a later step leaves nothing behind.
    let deleted = false;
    if (created) {
      deleted = await run(
        'delete',
        async (abortSignal) => (await blob.deleteIfExists({ abortSignal })).succeeded,
      );
    }

    const failed = steps.find((s) => !s.ok);
    if (!failed) return { ok: true, steps };
    return {
      ok: false,
      steps,
      failedStep: failed.step,
      message:
        `${failed.step} failed: ${failed.status === undefined ? 'no response' : `HTTP ${failed.status}`} ${failed.code ?? ''}`.trim(),
      ...(created && !deleted ? { leftBehind: `${target.container}/${blobName}` } : {}),
    };
  };
}

function describeFailure(error: unknown): { status?: number; code?: string } {
  if (isRestError(error)) {
    const code = error.code ?? (error.details as { errorCode?: string } | undefined)?.errorCode;
    return {
      ...(error.statusCode !== undefined ? { status: error.statusCode } : {}),
      ...(code ? { code: redactSecrets(code).slice(0, 64) } : {}),
    };
  }
  if (error instanceof Error && error.name === 'AbortError') return { code: 'Timeout' };
  return { code: error instanceof Error ? redactSecrets(error.name).slice(0, 64) : 'Unknown' };
}
