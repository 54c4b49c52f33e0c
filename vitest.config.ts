import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

const stateHome = join(tmpdir(), `xlane-test-state-${process.pid}`);
process.env.XLANE_TEST_STATE_HOME = stateHome;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Embedded clients record their lanes under $XDG_STATE_HOME (client/lane-records.ts): the
    // suite's clients, some destroyed with lanes open on purpose, must not fill the user's own.
    env: { XDG_STATE_HOME: stateHome },
    globalSetup: ['test/global-setup.ts'],
  },
});
