"""PyTorch's own ops on the inputs test/engine/kernelsPytorch.test.ts gives metanas's kernels: for each
case, the output and the gradients of sum(output * upstream) with respect to every input.
Reads a safetensors file (cases in its metadata), writes one with the results (same format)."""
import json
import struct
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from search_network import read_safetensors  # noqa: E402

CODES = {torch.float32: "F32", torch.float64: "F64"}


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().numpy().tobytes()
        header[name] = {"dtype": CODES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    raw += b" " * ((8 - (8 + len(raw)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b"".join(chunks))


def run(case, t):
    p = case["params"]
    x = t[f"{case['name']}.x"].requires_grad_()
    inputs = [x]
    if case["op"] == "conv2d":
        w = t[f"{case['name']}.w"].requires_grad_()
        inputs.append(w)
        y = F.conv2d(x, w, stride=p["stride"], padding=p["padding"], dilation=p["dilation"], groups=p["groups"])
    elif case["op"] == "separable_conv2d":
        dw = t[f"{case['name']}.w"].requires_grad_()
        pw = t[f"{case['name']}.pw"].requires_grad_()
        inputs += [dw, pw]
        r = F.relu(x) if p["reluFirst"] else x
        d = F.conv2d(r, dw, stride=p["stride"], padding=p["padding"], dilation=p["dilation"], groups=x.shape[1])
        y = F.conv2d(d, pw)
    elif case["op"] == "max_pool2d":
        y = F.max_pool2d(x, p["kernel"], p["stride"], p["padding"])
    elif case["op"] == "avg_pool2d":
        y = F.avg_pool2d(x, p["kernel"], p["stride"], p["padding"], count_include_pad=p["countIncludePad"])
    elif case["op"] == "batch_norm_accumulate":
        y = F.batch_norm(x, None, None, training=True, eps=1e-5)
        if p["scale"] != "none":
            s = t[f"{case['name']}.s"].requires_grad_()
            inputs.append(s)
            y = y * s
        if p["acc"]:
            a = t[f"{case['name']}.a"].requires_grad_()
            inputs.append(a)
            y = a + y
    elif case["op"] == "batch_norm":
        w = b = None
        if p["affine"]:
            w = t[f"{case['name']}.w"].requires_grad_()
            b = t[f"{case['name']}.b"].requires_grad_()
            inputs += [w, b]
        y = F.batch_norm(x, None, None, w, b, training=True, eps=1e-5)
        if p.get("relu"):
            y = F.relu(y)
    else:
        raise ValueError(case["op"])
    grads = torch.autograd.grad(y, inputs, t[f"{case['name']}.g"])
    out = {f"{case['name']}.y": y}
    names = {"separable_conv2d": ["x", "w", "pw"], "batch_norm_accumulate": ["x", "s", "a"]}.get(case["op"], ["x", "w", "b"])
    if case["op"] == "batch_norm_accumulate" and p["scale"] == "none":
        names = ["x", "a"]
    for k, g in zip(names, grads):
        out[f"{case['name']}.grad_{k}"] = g
    return out


def main():
    t, meta = read_safetensors(sys.argv[1])
    out = {}
    for case in json.loads(meta["cases"]):
        out.update(run(case, t))
    write_safetensors(sys.argv[2], out)


main()
