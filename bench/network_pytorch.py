"""PyTorch side of `npm run bench:network` (Debian's /usr/bin/python3 with python3-torch).

Started by bench/network.ts with a safetensors file of metanas's weights, architecture, input and
labels (settings in its metadata); builds the one-shot network with the independent implementation
of test/pytorch/search_network.py, then answers one JSON command per stdin line so that the two
sides can be timed in alternation:
  {"cmd": "check"}                        -> {"loss": loss without drop-path}
  {"cmd": "time", "kind": K, "passes": N} -> {"ms": [wall, per pass], "cpu_ms": [...], "forward_ms": [...]}
  {"cmd": "profile", "kind": K, "passes": N} -> {"ops": [{name, selfUs, totalUs, calls}], "ms": [...]}
  {"cmd": "memory"}                       -> {"max_rss_kb": peak resident set of this process}
  {"cmd": "quit"}
K: "full" (forward, gradients of weights and architecture), "arch" (the task learner's
architecture step: gradients of alpha and beta only, Adam), "weights" (its weight step).
"""
import json
import os
import resource
import sys
import time

from alloc_policy import apply_allocator_policy

ALLOCATOR = apply_allocator_policy()  # before torch allocates anything

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "pytorch"))
from search_network import network, read_safetensors  # noqa: E402


def main():
    path, threads = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    p, meta = read_safetensors(path)
    cfg = json.loads(meta["config"])
    T, threshold, drop = cfg["temperature"], cfg["threshold"], cfg["dropPath"]
    x, y = p.pop("input"), p.pop("labels")
    arch = {k: p.pop(k).requires_grad_() for k in list(p) if k.startswith("alpha.") or k.startswith("beta.")}
    weights = {k: t.requires_grad_() for k, t in p.items()}
    arch_list, weight_list = list(arch.values()), list(weights.values())
    # The task learner's optimisers: Adam with beta1 = 0 (SPEC section 3).
    arch_opt = torch.optim.Adam(arch_list, lr=cfg["lrArch"], betas=(0.0, 0.999), eps=1e-8, weight_decay=cfg["archWeightDecay"])
    weight_opt = torch.optim.Adam(weight_list, lr=cfg["lrWeights"], betas=(0.0, 0.999), eps=1e-8, weight_decay=0.0)

    def step(params, opt):
        loss = F.cross_entropy(network(x, weights, arch, cfg, T, threshold, drop), y)
        for prm, g in zip(params, torch.autograd.grad(loss, params)):
            prm.grad = g
        opt.step()
        for prm in params:
            prm.grad = None

    def one_pass(kind):
        """Runs one pass; returns (wall ms, CPU ms of this process, forward wall ms or None)."""
        t0, c0 = time.perf_counter(), time.process_time()
        t1 = None
        if kind == "full":
            loss = F.cross_entropy(network(x, weights, arch, cfg, T, threshold, drop), y)
            loss.item()
            t1 = time.perf_counter()
            torch.autograd.grad(loss, weight_list + arch_list)
        elif kind == "arch":
            step(arch_list, arch_opt)
        elif kind == "weights":
            step(weight_list, weight_opt)
        else:
            raise ValueError(kind)
        wall, cpu = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
        return wall, cpu, None if t1 is None else (t1 - t0) * 1000

    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(), "allocator": ALLOCATOR}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            break
        if cmd["cmd"] == "check":
            with torch.no_grad():
                loss = F.cross_entropy(network(x, weights, arch, cfg, T, threshold, 0.0), y).item()
            print(json.dumps({"loss": loss}), flush=True)
        elif cmd["cmd"] == "time":
            runs = [one_pass(cmd["kind"]) for _ in range(cmd["passes"])]
            print(json.dumps({"ms": [r[0] for r in runs], "cpu_ms": [r[1] for r in runs],
                              "forward_ms": [r[2] for r in runs if r[2] is not None]}), flush=True)
        elif cmd["cmd"] == "profile":
            with torch.autograd.profiler.profile() as prof:
                runs = [one_pass(cmd["kind"]) for _ in range(cmd["passes"])]
            ops = [{"name": e.key, "selfUs": e.self_cpu_time_total, "totalUs": e.cpu_time_total, "calls": e.count}
                   for e in prof.key_averages()]
            print(json.dumps({"ops": ops, "ms": [r[0] for r in runs]}), flush=True)
        elif cmd["cmd"] == "memory":
            print(json.dumps({"max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), flush=True)


if __name__ == "__main__":
    main()
