/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  // The host-only worker module, replaced by a capturing stub so registrations are real.
  moduleNameMapper: { '^@azure/functions-core$': '<rootDir>/dev/host/functionsCoreStub.ts' },
  globalSetup: '<rootDir>/test/support/azuriteGlobalSetup.ts',
  globalTeardown: '<rootDir>/test/support/azuriteGlobalTeardown.ts',
  testTimeout: 30000,
};
