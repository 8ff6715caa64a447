/** Jest runs TypeScript through ts-jest; every peer a test needs is started by test/global-setup.ts. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false, tsconfig: 'tsconfig.test.json' }],
    // cookie 2 (used by fastify.inject via light-my-request) ships only ES modules: compile it to CommonJS too.
    '/node_modules/cookie/.+\\.js$': [
      'ts-jest',
      { diagnostics: false, tsconfig: { allowJs: true, module: 'commonjs' } },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!cookie/)'],
  globalSetup: '<rootDir>/test/global-setup.ts',
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  // Pulumi runs and real servers are CPU-heavy on a 2-core machine; two workers keep runs from starving.
  maxWorkers: 2,
  testTimeout: 120000,
};
