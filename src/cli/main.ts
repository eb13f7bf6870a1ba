#!/usr/bin/env node
// metanas command line (src/cli/program.ts; each command group registers itself from its own module).

// OpenMP's spin-waiting makes libtorch's threads far slower under CPU contention
// (native/README.md); it must be set before the addon loads, hence the dynamic import below.
process.env.OMP_WAIT_POLICY ??= "PASSIVE";
// c10d logs its own view of a failed rendezvous or collective through glog; metanas says it in one
// line (METANAS_DEBUG shows both). glog reads this when libtorch loads.
if (!process.env.METANAS_DEBUG) process.env.GLOG_minloglevel ??= "3";
// torch.distributed.launch (without its use-env option) appends a local-rank argument
// ("--local_rank=N", or the name and N apart); the rank comes from the environment anyway. It is
// the launcher's argument, not a metanas flag, so it is matched here and dropped.
const localRank = /^-{2}local[_-]rank(=.*)?$/;
const args = process.argv.filter((a, i, all) => !localRank.test(a) && !/^-{2}local[_-]rank$/.test(all[i - 1] ?? ""));

const { createProgram } = await import("./program.js");
const { SharedFailure } = await import("../runs/distributed.js");

createProgram()
  .parseAsync(args)
  .catch((err: unknown) => {
    // One clear line for the user; the stack only when asked for. Ranks other than 0 say who they
    // are; a failure every rank sees alike is said once per machine.
    const message = (err instanceof Error ? err.message : String(err)).replace(/^metanas: /, "");
    const rank = Number(process.env.WORLD_SIZE) > 1 ? Number(process.env.RANK) : 0;
    const firstOnMachine = (Number(process.env.LOCAL_RANK) || 0) === 0;
    if (rank === 0) console.error(`metanas: ${message}`);
    else if (!(err instanceof SharedFailure) || firstOnMachine) console.error(`metanas: rank ${rank}: ${message}`);
    if (process.env.METANAS_DEBUG && err instanceof Error) console.error(err.stack);
    process.exit(1);
  });
