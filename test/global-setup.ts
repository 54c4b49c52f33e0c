// The suite's embedded clients record their lanes under $XDG_STATE_HOME (vitest.config.ts points it
// at a directory of this run's own): removed when the run ends.
import { rmSync } from 'node:fs';

export default function setup(): () => void {
  return () => {
    const dir = process.env.XLANE_TEST_STATE_HOME;
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
}
