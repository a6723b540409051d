/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // hyparquet(-writer) ship ES modules only; let swc compile them to CommonJS like our own code.
  transformIgnorePatterns: ['/node_modules/(?!(hyparquet|hyparquet-writer)/)'],
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  // The host-only worker module, replaced by a capturing stub so registrations are real.
  moduleNameMapper: { '^@azure/functions-core$': '<rootDir>/dev/host/functionsCoreStub.ts' },
  globalSetup: '<rootDir>/test/support/azuriteGlobalSetup.ts',
  globalTeardown: '<rootDir>/test/support/azuriteGlobalTeardown.ts',
  testTimeout: 30000,
};
