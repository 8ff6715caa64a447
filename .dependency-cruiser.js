/**
 * The house rules, checked by `npm test` (test/architecture.unit.test.ts runs depcruise with this file).
 *
 * Data flows one way: webhook -> registry -> stacks -> engine -> infra -> providers -> vendors. As imports, from
 * the outside in, each layer may import only the layers after it:
 *
 *   cli, webhook        entry points: the founder's command line, the HTTP service
 *   worker              turns queued purchases into stack runs, sends the founder's mail
 *   stacks, checks      a stack's runs (a purchase becomes a run) and the checks on its lines (drift, doctor, ring)
 *   engine              runs the Pulumi engine (Automation API), recovers after crashes
 *   infra               the Pulumi program
 *   providers           one dynamic resource per file
 *   vendors             one client per vendor, the retry rule, the settings, the lock on LiveKit ids
 *   common              code any layer may use (phone-number rules, logger, project paths)
 *
 * registry (the customer registry in PostgreSQL) is the store the upper layers share: cli, webhook, worker,
 * stacks, checks and infra read or write it; it imports only common. Development machinery (sandbox, test, bench,
 * scripts) may import anything; production code never imports it.
 */
const { PRODUCT_FOLDERS, DEVELOPMENT_FOLDERS } = require('./common/compiled-build');

const PRODUCTION = `^(${PRODUCT_FOLDERS.join('|')})/`;
const LAYERS = [
  ['cli', 'webhook'],
  ['worker'],
  ['stacks', 'checks'],
  ['engine'],
  ['infra'],
  ['providers'],
  ['vendors'],
  ['common'],
];
const folders = (names) => `^(${names.join('|')})/`;

/** For each layer: it may not import any layer before it (nor registry, below infra). */
const upTheFlow = LAYERS.slice(1).map((layer, i) => {
  const before = LAYERS.slice(0, i + 1).flat();
  const index = i + 1;
  const forbidden = index >= LAYERS.findIndex((l) => l.includes('providers')) ? [...before, 'registry'] : before;
  return {
    name: `no-import-up-the-flow-from-${layer.join('-')}`,
    comment: `${layer.join(' and ')} sit after ${before.join(', ')} in the flow: importing them goes up the flow`,
    severity: 'error',
    from: { path: folders(layer) },
    to: { path: folders(forbidden) },
  };
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'a cycle makes the order of the layers meaningless and the modules impossible to read one at a time',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-development-machinery-in-production',
      comment: 'the product must run without the sandbox, the tests, the benchmarks and the scripts',
      severity: 'error',
      from: { path: PRODUCTION },
      to: { path: `^(${DEVELOPMENT_FOLDERS.join('|')})/` },
    },
    {
      name: 'no-dynamic-import-in-production',
      comment: 'a dynamic import() in production code is how a cycle or a development-only module gets smuggled in',
      severity: 'error',
      from: { path: PRODUCTION },
      to: { dependencyTypes: ['dynamic-import'] },
    },
    {
      name: 'registry-imports-only-common',
      comment: 'the registry is the shared store: it knows tables, not the layers that use it',
      severity: 'error',
      from: { path: '^registry/' },
      to: {
        path: folders(['cli', 'webhook', 'worker', 'stacks', 'checks', 'engine', 'infra', 'providers', 'vendors']),
      },
    },
    {
      name: 'stacks-do-not-import-checks',
      comment: 'the checks read stacks; a stack run never depends on a check',
      severity: 'error',
      from: { path: '^stacks/' },
      to: { path: '^checks/' },
    },
    ...upTheFlow,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|\\.sandbox|\\.test-work)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    moduleSystems: ['cjs', 'es6'],
  },
};
