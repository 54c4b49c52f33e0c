#!/usr/bin/env node
// The `xlane` binary: each sub-command lives in its own file under commands/ and only parses
// arguments, calls the library and prints. Errors with an XL_ERR_* code exit 1 with the code shown
// (a bad command line too: XL_ERR_VALIDATION); help and --version exit as commander says (0).
import { CommanderError } from 'commander';
import { buildProgram, formatError } from './program.js';

function reportError(err: unknown): never {
  // Help or the version: already printed, nothing to add.
  if (err instanceof CommanderError) process.exit(err.exitCode);
  console.error(formatError(err));
  process.exit(1);
}

// `xlane … | head`: the reader went away, which is not this command's failure (an unhandled EPIPE
// would print a stack trace after the work was done).
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });

buildProgram().parseAsync(process.argv).catch(reportError);
