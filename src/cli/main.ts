/**
 * Entry point of the `wharf` command line: `node --import tsx src/cli/main.ts <args>`, or
 * bin/wharf.js. Exit codes are listed in `wharf --help`.
 */
import { run } from './program.ts';

// `wharf receive ... | head -1`: the reader went away, which is not an error of ours.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await run(process.argv.slice(2));
