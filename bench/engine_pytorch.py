"""PyTorch side of `npm run bench:engine` (run with Debian's /usr/bin/python3 and python3-torch).

Started once by bench/engine.ts; loads the same inputs and weights (a safetensors file written by
metanas, parsed here by hand: the safetensors package is not needed), then answers commands read
from stdin, one JSON object per line, so that the two sides can be timed in alternation:
  {"cmd": "step", "steps": N}       -> {"ms": [per-step ms ...], "loss": first loss}
  {"cmd": "overhead", "calls": N}   -> {"us": per-call microseconds of a 1-element add}
  {"cmd": "quit"}
"""
import json
import struct
import sys
import time

from alloc_policy import apply_allocator_policy

ALLOCATOR = apply_allocator_policy()  # before torch allocates anything

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}


def load_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8 : 8 + n])
    data = buf[8 + n :]
    out = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        b, e = spec["data_offsets"]
        t = torch.frombuffer(bytearray(data[b:e]), dtype=DTYPES[spec["dtype"]])
        out[name] = t.reshape(spec["shape"]).clone()
    return out


def main():
    path, threads = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(threads)
    t = load_safetensors(path)
    x, y = t.pop("x"), t.pop("y")
    names = ["dw1", "pw1", "w15", "w51", "g2", "b2", "dwd", "pw2", "fc_w", "fc_b"]
    p = {k: t[k].requires_grad_() for k in names}
    params = [p[k] for k in names]
    opt = torch.optim.Adam(params, lr=1e-3)

    def step():
        h = F.relu(x)
        h = F.conv2d(h, p["dw1"], padding=1, groups=28)
        h = F.conv2d(h, p["pw1"])
        h = F.batch_norm(h, None, None, training=True)
        h = F.relu(h)
        h = F.conv2d(h, p["w15"], padding=(0, 2))
        h = F.conv2d(h, p["w51"], padding=(2, 0))
        h = F.batch_norm(h, None, None, p["g2"], p["b2"], training=True)
        h = F.max_pool2d(h, 3, 1, 1)
        h = F.avg_pool2d(h, 3, 1, 1, count_include_pad=False)
        r = F.conv2d(h, p["dwd"], padding=2, dilation=2, groups=28)
        r = F.conv2d(r, p["pw2"])
        h = h + F.batch_norm(r, None, None, training=True)
        logits = F.linear(h.mean((2, 3)), p["fc_w"], p["fc_b"])
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(), "allocator": ALLOCATOR}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            break
        if cmd["cmd"] == "step":
            ms, first = [], None
            for _ in range(cmd["steps"]):
                t0 = time.perf_counter()
                loss = step()
                ms.append((time.perf_counter() - t0) * 1000)
                if first is None:
                    first = loss
            print(json.dumps({"ms": ms, "loss": first}), flush=True)
        elif cmd["cmd"] == "overhead":
            a, b = torch.ones(1), torch.ones(1)
            n = cmd["calls"]
            t0 = time.perf_counter()
            for _ in range(n):
                c = a + b
                del c
            print(json.dumps({"us": (time.perf_counter() - t0) * 1e6 / n}), flush=True)


if __name__ == "__main__":
    main()
