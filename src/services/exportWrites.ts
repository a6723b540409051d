// Writing an export that may already exist. Cost Management refuses a PUT without the current eTag
// to an existing export with a plain 400 ("Etag value required for update operation of report",
// Azure/bicep#6404), not a 409, and a stale eTag with 409/412. So nothing here infers "exists" from
// an error: a refused create is followed by a read, and the read decides. The body is built per
// attempt because it depends on the eTag (and may read a secret).
import { ArmRequestError, ConflictError, ExportNotFoundError } from '../azure/armErrors';
import type { CostExportsApi, ScopeInput } from '../azure/costExports';
import type { ExportPutBody } from '../azure/exportModels';

export interface ExportWriteResult {
  /** True when this call created the export, false when it updated an existing one. */
  created: boolean;
  /** PUTs sent (1 on the common path, at most 3). */
  puts: number;
}

export interface ExportWriteOptions {
  /** True when the export is probably new (a unique temporary name): PUT first, read only if
   * refused, saving a GET per call. False: read first, then create or update. */
  expectNew: boolean;
}

type Api = Pick<CostExportsApi, 'get' | 'createOrUpdate'>;

/**
 * Creates the export, or updates it with its current eTag. A stale eTag (someone else updated it
 * between our read and our PUT) is re-read once; a second conflict is thrown to the caller.
 */
export async function putExportKeepingETag(
  api: Api,
  scope: ScopeInput,
  exportName: string,
  body: (eTag: string | undefined) => Promise<ExportPutBody> | ExportPutBody,
  options: ExportWriteOptions,
): Promise<ExportWriteResult> {
  let puts = 0;
  const put = async (eTag: string | undefined) => {
    puts++;
    return api.createOrUpdate(scope, exportName, await body(eTag));
  };
  let eTag: string | undefined;
  if (options.expectNew) {
    try {
      const result = await put(undefined);
      return { created: result.created, puts };
    } catch (error) {
      // 400 (exists, no eTag) or 409/412: read to learn whether it exists. A refusal for any other
      // reason reads 404 and the original error stands.
      if (!(error instanceof ArmRequestError || error instanceof ConflictError)) throw error;
      const current = await readETag(api, scope, exportName);
      if (current === undefined) throw error;
      eTag = current;
    }
  } else {
    eTag = await readETag(api, scope, exportName);
  }
  try {
    const result = await put(eTag);
    return { created: result.created, puts };
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    // Stale: someone updated (or deleted) it since our read. Read once more and try once more.
    const fresh = await readETag(api, scope, exportName);
    const result = await put(fresh);
    return { created: result.created, puts };
  }
}

/** The current eTag, or undefined when the export does not exist. An export without an eTag in
 * its GET answer cannot be updated safely, so that is an error naming the export. */
async function readETag(api: Api, scope: ScopeInput, exportName: string): Promise<string | undefined> {
  try {
    const current = await api.get(scope, exportName);
    if (!current.eTag) {
      throw new MissingETagError(`export "${exportName}": the service returned it without an eTag`);
    }
    return current.eTag;
  } catch (error) {
    if (error instanceof ExportNotFoundError) return undefined;
    throw error;
  }
}

/** The service answered a GET without the eTag an update needs. */
export class MissingETagError extends Error {
  override readonly name = 'MissingETagError';
}
