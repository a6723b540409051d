// Routes blobs to blobTrigger functions. Paths are `container/pattern` where the pattern may use
// `{name}` parameters (any characters, `/` included, as the host allows), e.g. `exports/{name}`,
// `msexports/{*path}`, `landing/{folder}/{file}.json`. Each watcher lists its container on the clock
// (poll interval configurable) and fires once per blob version (name + ETag), like blob receipts do.
// Blobs already present at start fire too, as the host does for blobs without receipts, unless
// `processExisting` is false. The binding's `source` (EventGrid / LogsAndContainerScan) only decides
// how Azure delivers the event; locally both are served by listing.
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';

import type { Clock, TimerHandle } from './clock';
import type { CapturedRegistration } from './functionsCoreStub';
import type { HostLogger } from './invocation';
import { describeError } from './invocation';
import { type HostEnv, resolveSettings } from './settings';

export interface BlobPathPattern {
  container: string;
  /** Literal blob-name prefix before the first parameter (used to narrow listings). */
  prefix: string;
  regex: RegExp;
  params: string[];
}

export function parseBlobPath(path: string): BlobPathPattern {
  const clean = path.replace(/^\/+/, '');
  const slash = clean.indexOf('/');
  const container = slash < 0 ? clean : clean.slice(0, slash);
  const pattern = slash < 0 ? '{name}' : clean.slice(slash + 1);
  if (!/^[a-z0-9$](?:[a-z0-9-]{1,61}[a-z0-9])?$/.test(container) || container.includes('{')) {
    throw new Error(`blob path "${path}": "${container}" is not a literal container name`);
  }
  const params: string[] = [];
  let regex = '^';
  let prefix = '';
  let literal = true;
  for (const piece of pattern.split(/(\{\*?[A-Za-z_][A-Za-z0-9_]*\})/)) {
    const m = /^\{\*?([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(piece);
    if (m) {
      params.push(m[1]!);
      regex += `(?<${m[1]}>.+?)`;
      literal = false;
    } else {
      if (/[{}]/.test(piece)) throw new Error(`blob path "${path}": malformed parameter in "${piece}"`);
      regex += piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      if (literal) prefix += piece;
    }
  }
  return { container, prefix, regex: new RegExp(`${regex}$`), params };
}

/** The binding parameters when `blobName` (within the container) matches. */
export function matchBlobPath(
  pattern: BlobPathPattern,
  blobName: string,
): Record<string, string> | undefined {
  const m = pattern.regex.exec(blobName);
  return m ? { ...(m.groups ?? {}) } : undefined;
}

/** `connection` setting → connection string (the host's default is AzureWebJobsStorage). */
export function resolveBlobConnection(registration: CapturedRegistration, env: HostEnv): string {
  const name =
    typeof registration.trigger.connection === 'string'
      ? registration.trigger.connection
      : 'AzureWebJobsStorage';
  const where = `blob function "${registration.name}" connection "${name}"`;
  const resolved = resolveSettings(name, env, where);
  const value = env[resolved] ?? env[`ConnectionStrings:${resolved}`];
  if (value) return value;
  if (env[`${resolved}__blobServiceUri`] || env[`${resolved}__serviceUri`]) {
    throw new Error(
      `${where}: identity-based connections are not supported by the local host; set ${resolved} to a connection string (Azurite)`,
    );
  }
  throw new Error(`${where}: app setting "${resolved}" is not set`);
}

export interface BlobDelivery {
  blobPath: string;
  content: Buffer;
  uri: string;
  params: Record<string, string>;
  properties: Record<string, unknown>;
  metadata: Record<string, string>;
}

export type BlobInvoker = (registration: CapturedRegistration, delivery: BlobDelivery) => Promise<unknown>;

export class BlobTriggerWatcher {
  readonly pattern: BlobPathPattern;
  private readonly container: ContainerClient;
  private readonly seen = new Map<string, string>();
  private handle?: TimerHandle;
  private stopped = false;
  private missingLogged = false;

  constructor(
    readonly registration: CapturedRegistration,
    env: HostEnv,
    private readonly clock: Clock,
    private readonly invoke: BlobInvoker,
    private readonly options: { pollIntervalMs: number; processExisting: boolean; logger: HostLogger },
  ) {
    const path = registration.trigger.path;
    if (typeof path !== 'string')
      throw new Error(`blob function "${registration.name}": binding has no path`);
    this.pattern = parseBlobPath(resolveSettings(path, env, `blob function "${registration.name}" path`));
    const connection = resolveBlobConnection(registration, env);
    this.container = BlobServiceClient.fromConnectionString(connection).getContainerClient(
      this.pattern.container,
    );
  }

  async start(): Promise<void> {
    if (!this.options.processExisting) await this.scan(false);
    this.schedule(this.clock.now());
  }

  stop(): void {
    this.stopped = true;
    this.handle?.cancel();
  }

  /** Lists the container once and fires every new or changed matching blob. */
  pollNow(): Promise<void> {
    return this.clock.track(this.scan(true));
  }

  private schedule(at: number): void {
    if (this.stopped) return;
    this.handle = this.clock.setTimer(at, () => {
      void this.pollNow().finally(() => this.schedule(this.clock.now() + this.options.pollIntervalMs));
    });
  }

  private async scan(fire: boolean): Promise<void> {
    try {
      for await (const blob of this.container.listBlobsFlat({
        prefix: this.pattern.prefix || undefined,
        includeMetadata: true,
      })) {
        if (this.stopped) return;
        const params = matchBlobPath(this.pattern, blob.name);
        const etag = blob.properties.etag ?? '';
        if (!params || this.seen.get(blob.name) === etag) continue;
        this.seen.set(blob.name, etag);
        if (!fire) continue;
        try {
          const client = this.container.getBlobClient(blob.name);
          const content = await client.downloadToBuffer();
          await this.invoke(this.registration, {
            blobPath: `${this.pattern.container}/${blob.name}`,
            content,
            uri: client.url,
            params,
            properties: {
              ...blob.properties,
              eTag: etag,
              contentLength: blob.properties.contentLength ?? content.length,
              blobType: blob.properties.blobType,
            },
            metadata: blob.metadata ?? {},
          });
        } catch (err) {
          // The host would retry 5 times then poison-queue; locally the failure is logged once.
          this.options.logger(
            'error',
            `[${this.registration.name}] blob ${blob.name}: ${describeError(err)}`,
          );
        }
      }
      this.missingLogged = false;
    } catch (err) {
      const code = (err as { statusCode?: number }).statusCode;
      if (code === 404) {
        if (!this.missingLogged) {
          this.options.logger(
            'warn',
            `[${this.registration.name}] container "${this.pattern.container}" does not exist yet`,
          );
        }
        this.missingLogged = true;
      } else {
        this.options.logger(
          'error',
          `[${this.registration.name}] listing "${this.pattern.container}": ${describeError(err)}`,
        );
      }
    }
  }
}
