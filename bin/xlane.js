#!/usr/bin/env node
// Thin launcher: the compiled CLI (built by `npm ci` through the prepare script).
import { fileURLToPath } from 'node:url';
import { sourceNewerThanBuild } from './stale-build.js';

const changed = sourceNewerThanBuild(fileURLToPath(new URL('..', import.meta.url)));
if (changed) {
  console.error(
    `xlane: warning: ${changed} changed after the last build: this runs the old build in dist/. ` +
      'Run `npm run build` (or `npm ci`) first.',
  );
}
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    console.error(
      'xlane: the build is missing; run `npm ci` (or `npm run build`) in the xlane folder first.',
    );
    process.exit(1);
  }
  throw err;
});
