// Test access to the Azurite started by the jest global setup.
import { randomBytes } from 'node:crypto';

export function testStorageConnection(): string {
  const conn = process.env.TEST_STORAGE_CONNECTION;
  if (!conn)
    throw new Error('TEST_STORAGE_CONNECTION is not set: the jest globalSetup did not start Azurite');
  return conn;
}

/** A fresh, valid table/container name so tests sharing one Azurite never see each other's data. */
export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(5).toString('hex')}`.toLowerCase().replace(/[^a-z0-9]/g, '');
}
