// ESLint with typescript-eslint's recommended rules over the whole tree, run by `npm test` (npm run lint).
// Formatting is prettier's (.prettierrc.json, 120 columns); the one layout rule here, max-len, holds the lines
// prettier does not break (strings, comments) to the same 120.
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');

module.exports = tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'dist.*/', '.sandbox/', '.test-work/', 'test-artifacts/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'commonjs',
      globals: {
        ...Object.fromEntries(
          [
            'require',
            'process',
            'console',
            '__dirname',
            '__filename',
            'Buffer',
            'globalThis',
            'fetch',
            'URL',
            'URLSearchParams',
            'AbortController',
          ]
            .concat(['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'])
            .map((name) => [name, 'readonly']),
        ),
        module: 'writable',
        exports: 'writable',
      },
    },
    rules: {
      // Unused arguments named with a leading underscore are the provider contract's (check(_olds, news)).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    // Prettier never breaks a string or a comment, so a long message or comment can still pass 120 columns: split
    // it into a concatenation (the text it produces unchanged) or re-wrap it. Tests keep prettier's formatting only.
    files: ['**/*.ts', '**/*.js'],
    ignores: ['test/**/*.ts'],
    rules: { 'max-len': ['error', { code: 120, ignoreUrls: true, ignoreRegExpLiterals: true }] },
  },
  {
    // Plain CommonJS by design: the provider host and what it loads before any TypeScript can be, the build, the
    // tool configs, the Jest reporter.
    files: ['**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Pulumi's dynamic-provider contract hands providers their old and new inputs as `any` (ResourceProvider's own
    // types); the checks there are what give them a type. The shim Pulumi serializes may only `require`.
    files: ['providers/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['providers/dynamic-provider.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Tests read JSON that real engines, CLIs and servers print, and load the provider host's plain JavaScript.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-require-imports': 'off' },
  },
);
