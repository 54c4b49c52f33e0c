#!/usr/bin/env node
// Builds the native lane engine (native/*.c → build/Release/xlane_engine.node) with node-gyp, from
// source, at install time. Never fatal: when the build cannot run (no compiler, no Node headers,
// not Linux) it prints ONE warning and exits 0; createEngine('native') then runs the js engine and
// says so. XLANE_SKIP_NATIVE=1 skips the build; XLANE_NATIVE_VERBOSE=1 shows the compiler output.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const verbose = process.env.XLANE_NATIVE_VERBOSE === '1';

function warn(why) {
  console.warn(`xlane: native engine not built (${why}); the js engine will be used instead.`);
  process.exit(0);
}

if (process.env.XLANE_SKIP_NATIVE === '1') warn('XLANE_SKIP_NATIVE=1');
if (process.platform !== 'linux') warn(`it needs Linux, this is ${process.platform}`);

// npm hands its own node-gyp to install scripts; outside npm, use the one npm ships with.
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    process.env.npm_execpath &&
      join(dirname(process.env.npm_execpath), '../node_modules/node-gyp/bin/node-gyp.js'),
  ];
  return candidates.find((p) => p && existsSync(p));
}

const gyp = findNodeGyp();
if (!gyp) warn('node-gyp was not found (it comes with npm)');

// Build against the headers of the running Node when they are installed next to it, so nothing is
// downloaded; node-gyp's own nodedir setting wins when the user gave one.
const args = [gyp, 'rebuild'];
const prefix = join(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include/node/node_api.h')))
  args.push(`--nodedir=${prefix}`);

const run = spawnSync(process.execPath, args, {
  cwd: root,
  stdio: verbose ? 'inherit' : 'pipe',
  encoding: 'utf8',
  timeout: 300_000,
});
if (run.status !== 0) {
  const out = `${run.stdout ?? ''}${run.stderr ?? ''}`;
  const firstError = out.split('\n').find((l) => /error|not found|ERR!/i.test(l));
  warn(
    `${run.error ? run.error.message : `node-gyp exited with ${run.status}`}${
      firstError ? `: ${firstError.trim()}` : ''
    }; XLANE_NATIVE_VERBOSE=1 shows the whole output`,
  );
}
if (!existsSync(join(root, 'build/Release/xlane_engine.node'))) warn('node-gyp produced no addon');
console.log('xlane: native engine built (build/Release/xlane_engine.node)');
