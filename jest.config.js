/** Jest runs TypeScript through ts-jest; every peer a test needs is started by test/global-setup.ts. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  // `alone` tests stop and start the sandbox's own daemons (PostgreSQL, livekit-server, the SMTP sink), or count the
  // processes a crash recovery ends (any other test's recovery would end them first): nothing else may run beside
  // them, so `npm test` runs them in a second jest run of their own (CHURCHWISE_TESTS_ALONE=1).
  testMatch: process.env.CHURCHWISE_TESTS_ALONE ? ['**/*.alone.test.ts'] : ['**/*.test.ts'],
  testPathIgnorePatterns: process.env.CHURCHWISE_TESTS_ALONE
    ? ['/node_modules/']
    : ['/node_modules/', '\\.alone\\.test\\.ts$'],
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
