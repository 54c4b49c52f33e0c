// A git checkout whose sources changed after the last build runs the old code, with no sign of it
// but an error that no longer matches the sources (a topology key "unknown" that the checkout's
// schema knows). So the launcher compares: the newest file under src/ against dist/cli/main.js. An
// installed package has no src/ and is never flagged; a walk of the ~250 source files costs a few ms.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newest(dir) {
  let best = { path: '', mtimeMs: 0 };
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const found = entry.isDirectory()
      ? newest(path)
      : entry.isFile()
        ? { path, mtimeMs: statSync(path).mtimeMs }
        : best;
    if (found.mtimeMs > best.mtimeMs) best = found;
  }
  return best;
}

/** The source file changed after the build under `root`, or null (no src/, no build, or up to date). */
export function sourceNewerThanBuild(root) {
  let built;
  try {
    built = statSync(join(root, 'dist', 'cli', 'main.js')).mtimeMs;
  } catch {
    return null; // no build: the launcher says so itself
  }
  let latest;
  try {
    latest = newest(join(root, 'src'));
  } catch {
    return null; // no sources: an installed package
  }
  return latest.mtimeMs > built ? latest.path : null;
}
