"""PyTorch side of `npm run bench:network` (Debian's /usr/bin/python3 with python3-torch).

Started by bench/network.ts with a safetensors file of metanas's weights, architecture, input and
labels (settings in its metadata); builds the one-shot network with the independent implementation
of test/pytorch/search_network.py, or (config "model": "conv4") python/metanas_torch.py's Conv4
with those weights, then answers one JSON command per stdin line so that the two
sides can be timed in alternation:
  {"cmd": "check"}                        -> {"loss": loss without drop-path}
  {"cmd": "time", "kind": K, "passes": N} -> {"ms": [wall, per pass], "cpu_ms": [...], "forward_ms": [...]}
  {"cmd": "profile", "kind": K, "passes": N} -> {"ops": [{name, selfUs, totalUs, calls}], "ms": [...]}
  {"cmd": "memory"}                       -> {"max_rss_kb": peak resident set of this process}
  {"cmd": "quit"}
K: "full" (forward, gradients of weights and architecture), "arch" (the task learner's
architecture step: gradients of alpha and beta only, Adam), "weights" (its weight step; for Conv4
one REPTILE inner step: forward, cross-entropy, gradients, torch.optim.Adam with betas (0, 0.999)).
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

_root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(_root, "test", "pytorch"))
sys.path.insert(0, os.path.join(_root, "python"))
from metanas_torch import Conv4  # noqa: E402
from search_network import network, read_safetensors  # noqa: E402


def conv4_network(p, cfg):
    """Conv4 with metanas's weights (same names); returns (forward(x), weights by name)."""
    w = p["block0.conv.weight"]
    net = Conv4(w.shape[1], cfg["ways"], cfg["channels"], p["classifier.weight"].shape[1], cfg["downsampling"])
    net.load_state_dict(p, strict=True)
    return net, dict(net.named_parameters())


def main():
    path, threads = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    p, meta = read_safetensors(path)
    cfg = json.loads(meta["config"])
    T, threshold, drop = cfg.get("temperature"), cfg.get("threshold"), cfg.get("dropPath", 0.0)
    x, y = p.pop("input"), p.pop("labels")
    if cfg.get("model") == "conv4":
        net, weights = conv4_network(p, cfg)
        arch = {}
        forward = lambda drop_path=0.0: net(x)  # noqa: E731
        lr_arch, arch_wd, weight_wd = 0.0, 0.0, cfg["weightDecay"]
    else:
        arch = {k: p.pop(k).requires_grad_() for k in list(p) if k.startswith("alpha.") or k.startswith("beta.")}
        weights = {k: t.requires_grad_() for k, t in p.items()}
        forward = lambda drop_path=drop: network(x, weights, arch, cfg, T, threshold, drop_path)  # noqa: E731
        lr_arch, arch_wd, weight_wd = cfg["lrArch"], cfg["archWeightDecay"], 0.0
    arch_list, weight_list = list(arch.values()), list(weights.values())
    # The task learner's optimisers: Adam with beta1 = 0 (SPEC section 3).
    arch_opt = torch.optim.Adam(arch_list, lr=lr_arch, betas=(0.0, 0.999), eps=1e-8, weight_decay=arch_wd) if arch_list else None
    weight_opt = torch.optim.Adam(weight_list, lr=cfg["lrWeights"], betas=(0.0, 0.999), eps=1e-8, weight_decay=weight_wd)

    def step(params, opt):
        loss = F.cross_entropy(forward(), y)
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
            loss = F.cross_entropy(forward(), y)
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
                loss = F.cross_entropy(forward(0.0), y).item()
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
