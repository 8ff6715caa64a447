// @ts-check
/**
 * What tells a compiled build (dist/, `npm run build`) from the sources it was compiled from: a hash of every
 * product source file and of tsconfig.json, written into dist/ by the build and recomputed by whoever wants to run
 * the compiled code instead of the TypeScript (providers/provider-host.js). A build older than the sources it
 * stands for is never run: an edited checkout falls back to the TypeScript rather than to yesterday's code.
 *
 * Plain JavaScript so the provider host can use it before any TypeScript can be loaded.
 */
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

/**
 * The folders `npm run build` compiles (tsconfig.json's include), in the order of the flow. The development
 * machinery beside them is DEVELOPMENT_FOLDERS; the tests that walk the tree take both lists from here.
 */
const PRODUCT_FOLDERS = [
  'cli',
  'webhook',
  'worker',
  'registry',
  'stacks',
  'checks',
  'engine',
  'infra',
  'providers',
  'vendors',
  'common',
  'db',
];
/** What a checkout has beside the product: the sandbox, the scripts, the benchmarks and the tests. */
const DEVELOPMENT_FOLDERS = ['sandbox', 'scripts', 'bench', 'test'];
const STAMP_FILE = '.sources.sha256';

/** @param {string} dir @returns {string[]} */
function sourceFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return sourceFiles(full);
      // Templates, stylesheets and migrations are copied into the build too: an edit to one makes it stale.
      return /\.(ts|js|json|eta|css|sql)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [full] : [];
    })
    .sort();
}

/** Hash of the product's sources as they are on disk now. @param {string} root */
function sourcesHash(root) {
  const hash = crypto.createHash('sha256');
  for (const file of [
    path.join(root, 'tsconfig.json'),
    ...PRODUCT_FOLDERS.flatMap((f) => sourceFiles(path.join(root, f))),
  ]) {
    hash.update(path.relative(root, file)).update('\0').update(fs.readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

/**
 * The compiled build in `<root>/dist` when it was built from exactly these sources, else undefined.
 * @param {string} root
 */
function freshBuild(root) {
  const dist = path.join(root, 'dist');
  try {
    return fs.readFileSync(path.join(dist, STAMP_FILE), 'utf8').trim() === sourcesHash(root) ? dist : undefined;
  } catch {
    return undefined; // never built
  }
}

module.exports = { PRODUCT_FOLDERS, DEVELOPMENT_FOLDERS, STAMP_FILE, sourcesHash, freshBuild };
