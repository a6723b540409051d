// The one place that reads a storage service's refusal (Table or Blob, a RestError) into what it
// means to the caller, so no adapter or service compares status codes of its own:
// 404 the table or row is not there, 409 the row (or table) exists already, 412 the row changed
// since it was read (its ETag no longer matches). Anything else is not a refusal and is thrown.
// https://learn.microsoft.com/rest/api/storageservices/table-service-error-codes
export type StorageRefusal = 'missing' | 'exists' | 'changed';

/** What a storage failure means, or undefined when it is not one of the expected refusals. */
export function storageRefusal(error: unknown): StorageRefusal | undefined {
  // Read structurally: the SDK's RestError carries `statusCode`, and so may the error of a client
  // a test or tool hands in.
  const status =
    typeof error === 'object' && error !== null ? (error as { statusCode?: unknown }).statusCode : undefined;
  switch (status) {
    case 404:
      return 'missing';
    case 409:
      return 'exists';
    case 412:
      return 'changed';
    default:
      return undefined;
  }
}

/** True when the write went through; false when storage refused it for one of `expected`; any other
 * failure is thrown. */
export async function wentThrough(write: Promise<unknown>, ...expected: StorageRefusal[]): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (error) {
    const refusal = storageRefusal(error);
    if (refusal !== undefined && expected.includes(refusal)) return false;
    throw error;
  }
}

/** A read's answer, or undefined when the table or row is not there. */
export async function unlessMissing<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (storageRefusal(error) === 'missing') return undefined;
    throw error;
  }
}
