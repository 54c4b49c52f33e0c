#!/usr/bin/env node
// Thin launcher: the compiled CLI (built by `npm ci` through the prepare script).
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    console.error(
      'xlane: the build is missing; run `npm ci` (or `npm run build`) in the xlane folder first.',
    );
    process.exit(1);
  }
  throw err;
});
