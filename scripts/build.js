#!/usr/bin/env node
// `npm run build`: compiles the product (tsconfig.json) to dist/, copies the plain JavaScript it needs beside it,
// and stamps dist/ with the hash of the sources it was built from (common/compiled-build.js). The service
// (`node dist/webhook/main.js`), the founder's CLI (`npx churchwise`) and the providers then run compiled code with
// plain node; the providers run it only while the stamp matches the sources.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { STAMP_FILE, sourcesHash } = require('../common/compiled-build');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
// Built beside dist/ and swapped in at the end, so a process that is loading the build meanwhile (a provider of a
// run in progress) never sees half of one.
const next = path.join(root, `dist.building-${process.pid}`);
const started = Date.now();
fs.rmSync(next, { recursive: true, force: true });
try {
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json'), '--outDir', next],
    {
      stdio: 'inherit',
      cwd: root,
    },
  );
  for (const file of ['providers/provider-host.js', 'common/compiled-build.js']) {
    fs.copyFileSync(path.join(root, file), path.join(next, file));
  }
  fs.cpSync(path.join(root, 'db', 'migrations'), path.join(next, 'db', 'migrations'), { recursive: true });
  // The web pages' templates and their stylesheets and scripts are read at run time beside the compiled code.
  for (const pages of ['webhook/pastor', 'webhook/console']) {
    for (const folder of ['views', 'assets']) {
      fs.cpSync(path.join(root, pages, folder), path.join(next, pages, folder), { recursive: true });
    }
  }
  fs.chmodSync(path.join(next, 'cli', 'main.js'), 0o755);
  fs.writeFileSync(path.join(next, STAMP_FILE), `${sourcesHash(root)}\n`);
  const old = path.join(root, `dist.old-${process.pid}`);
  if (fs.existsSync(dist)) fs.renameSync(dist, old);
  fs.renameSync(next, dist);
  fs.rmSync(old, { recursive: true, force: true });
} finally {
  fs.rmSync(next, { recursive: true, force: true });
}
console.log(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
