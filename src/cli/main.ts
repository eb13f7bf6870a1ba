#!/usr/bin/env node
// metanas command line (src/cli/program.ts; each command group registers itself from its own module).

// OpenMP's spin-waiting makes libtorch's threads far slower under CPU contention
// (native/README.md); it must be set before the addon loads, hence the dynamic import below.
process.env.OMP_WAIT_POLICY ??= "PASSIVE";

const { createProgram } = await import("./program.js");

createProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    // One clear line for the user; the stack only when asked for.
    const message = err instanceof Error ? err.message : String(err);
    console.error(`metanas: ${message.replace(/^metanas: /, "")}`);
    if (process.env.METANAS_DEBUG && err instanceof Error) console.error(err.stack);
    process.exit(1);
  });
