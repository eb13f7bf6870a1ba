"""An independent PyTorch implementation of the MetaNAS one-shot network (docs/method.md §1-2),
written from docs/method.md, fed with metanas's weights: prints logits, loss and gradients as JSON.
Run by test/searchspace/pytorch.test.ts with Debian's python3-torch; bench/network_pytorch.py
imports `network` to time the same network against metanas."""
import json
import struct
import sys

import torch
import torch.nn.functional as F

OPS = ["max_pool_3x3", "avg_pool_3x3", "skip_connect", "conv_1x5_5x1", "conv_3x3", "sep_conv_3x3", "dil_conv_3x3"]
DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}


def read_safetensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        raw = bytearray(data[8 + n + a : 8 + n + b])
        out[name] = torch.frombuffer(raw, dtype=DTYPES[e["dtype"]]).reshape(e["shape"]).clone()
    return out, meta


def bn(x, p=None, prefix=None):
    w = p.get(prefix + ".weight") if p is not None else None
    b = p.get(prefix + ".bias") if p is not None else None
    return F.batch_norm(x, None, None, w, b, training=True, eps=1e-5)


def sep_block(x, p, pre, stride, dilation):
    c = x.shape[1]
    x = F.relu(x)
    x = F.conv2d(x, p[pre + ".depthwise.weight"], stride=stride, padding=dilation, dilation=dilation, groups=c)
    x = F.conv2d(x, p[pre + ".pointwise.weight"])
    return bn(x)


def factorized_reduce(x, p, pre):
    x = F.relu(x)
    a = F.conv2d(x, p[pre + ".conv1.weight"], stride=2)
    shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
    b = F.conv2d(shifted, p[pre + ".conv2.weight"], stride=2)
    return bn(torch.cat([a, b], 1))


def drop_path(x, p):
    """Zeroes whole samples with probability p and scales the rest by 1 / (1 - p)."""
    if p <= 0:
        return x
    mask = torch.bernoulli(torch.full((x.shape[0], 1, 1, 1), 1 - p, dtype=x.dtype))
    return x * (mask / (1 - p))


def op(name, x, p, pre, stride):
    if name == "max_pool_3x3":
        return bn(F.max_pool2d(x, 3, stride, 1))
    if name == "avg_pool_3x3":
        return bn(F.avg_pool2d(x, 3, stride, 1, count_include_pad=False))
    if name == "skip_connect":
        return x if stride == 1 else factorized_reduce(x, p, pre)
    if name == "conv_1x5_5x1":
        y = F.conv2d(F.relu(x), p[pre + ".conv1x5.weight"], stride=stride, padding=(0, 2))
        return bn(F.conv2d(y, p[pre + ".conv5x1.weight"], padding=(2, 0)))
    if name == "conv_3x3":
        return sep_block(x, p, pre, stride, 1)
    if name == "sep_conv_3x3":
        return sep_block(sep_block(x, p, pre + ".first", stride, 1), p, pre + ".second", 1, 1)
    if name == "dil_conv_3x3":
        return sep_block(x, p, pre, stride, 2)
    raise ValueError(name)


def cell(s0, s1, p, k, reduction, reduction_prev, alpha, betas, T, threshold, drop=0.0):
    pre = f"cells.{k}"
    if reduction_prev:
        s0 = factorized_reduce(s0, p, pre + ".preprocess0")
    else:
        s0 = bn(F.conv2d(F.relu(s0), p[pre + ".preprocess0.conv.weight"]))
    s1 = bn(F.conv2d(F.relu(s1), p[pre + ".preprocess1.conv.weight"]))
    states = [s0, s1]
    w = F.softmax(alpha / T, dim=-1)
    e = 0
    for j, beta in enumerate(betas):
        n = len(states)
        edges = {}
        for i in range(n):
            stride = 2 if reduction and i < 2 else 1
            terms = []
            for o in range(7):
                if w[e + i, o].item() > threshold:
                    y = op(OPS[o], states[i], p, f"{pre}.edges.{e + i}.{OPS[o]}", stride)
                    if not (OPS[o] == "skip_connect" and stride == 1):
                        y = drop_path(y, drop)
                    terms.append(w[e + i, o] * y)
            edges[i] = sum(terms[1:], terms[0])
        pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
        v = F.softmax(beta / T, dim=0)
        node = None
        for q, (a, b) in enumerate(pairs):
            if v[q].item() > threshold:
                term = v[q] * (edges[a] + edges[b])
                node = term if node is None else node + term
        states.append(node)
        e += n
    return torch.cat(states[2:], 1)


def network(x, p, arch, cfg, T, threshold, drop=0.0):
    """Logits of the one-shot network; p: weights by metanas's names, arch: alpha.*/beta.* tensors."""
    s = bn(F.conv2d(x, p["stem.conv.weight"], padding=1), p, "stem.bn")
    s0 = s1 = s
    reduction_prev = False
    for k in range(cfg["cells"]):
        reduction = k in cfg["reductions"]
        kind = "reduce" if reduction else "normal"
        betas = [arch[f"beta.{kind}.{j}"] for j in range(cfg["nodes"])]
        out = cell(s0, s1, p, k, reduction, reduction_prev, arch[f"alpha.{kind}"], betas, T, threshold, drop)
        s0, s1 = s1, out
        reduction_prev = reduction
    return F.linear(s1.mean(dim=(2, 3)), p["classifier.weight"], p["classifier.bias"])


def main():
    p, meta = read_safetensors(sys.argv[1])
    cfg = json.loads(meta["config"])
    T, threshold = cfg["temperature"], cfg["threshold"]
    x, y = p.pop("input"), p.pop("labels")
    arch = {k: p.pop(k).requires_grad_() for k in list(p) if k.startswith("alpha.") or k.startswith("beta.")}
    stem_w = p["stem.conv.weight"].requires_grad_()
    logits = network(x, p, arch, cfg, T, threshold)
    loss = F.cross_entropy(logits, y)
    names = sorted(arch) + ["stem.conv.weight"]
    grads = torch.autograd.grad(loss, [arch[n] for n in sorted(arch)] + [stem_w])
    print(json.dumps({
        "logits": logits.detach().flatten().tolist(),
        "loss": loss.item(),
        "grads": {n: g.flatten().tolist() for n, g in zip(names, grads)},
    }))


if __name__ == "__main__":
    main()
