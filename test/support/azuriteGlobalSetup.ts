// jest globalSetup: one in-memory Azurite for the whole run; workers read its endpoints from env.
import { startAzurite } from '../../dev/azurite';

export default async function globalSetup(): Promise<void> {
  const azurite = await startAzurite();
  process.env.TEST_STORAGE_CONNECTION = azurite.connectionString;
  process.env.TEST_STORAGE_BLOB_ENDPOINT = azurite.blobEndpoint;
  process.env.TEST_STORAGE_TABLE_ENDPOINT = azurite.tableEndpoint;
  process.env.TEST_STORAGE_QUEUE_ENDPOINT = azurite.queueEndpoint;
  (globalThis as { __azuriteStop__?: () => Promise<void> }).__azuriteStop__ = azurite.stop;
}
