"""metanas run directories as PyTorch modules (torch is the only dependency).

    from metanas_torch import load_run
    model = load_run("runs/quick-20250101-120000")   # an nn.Module; model(images) -> logits

What load_run builds from a run directory (config.json, checkpoint.safetensors, genotype.json), or
from a task network that `metanas predict --save DIR` wrote in the same layout (plus task.json):
  - a search run (model "metanas"): the one-shot network with its meta-learned architecture
    parameters (alpha, beta) as nn.Parameters; its forward pass takes the temperature and
    forward-pruning threshold from the module's `temperature` and `threshold` attributes;
  - a fixed-architecture run (model "fixed", `metanas train --genotype`): the network of the run's
    genotype with its meta-learned weights;
  - a Conv4 run (model "conv4"): the four-block baseline.
The module's parameter names are the checkpoint's, so `state_dict()` and the checkpoint agree key
for key. Batch norm always uses the batch's statistics, in train() and eval() mode alike, as the
method does (transductive, as in REPTILE): predict a task's query images in one batch. Images are
[N, C, H, W] floats in [0, 1] (Omniglot and the built-in data: 1 x 28 x 28; MiniImagenet: 3 x 84 x 84).

Run as a script, it describes a run's module, or prints its logits for images in a safetensors file:
    python3 metanas_torch.py RUN_DIR [--logits IMAGES.safetensors] [--temperature T] [--threshold X]
"""

import argparse
import ast
import json
import os
import re
import struct
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

OP_NAMES = ["max_pool_3x3", "avg_pool_3x3", "skip_connect", "conv_1x5_5x1", "conv_3x3", "sep_conv_3x3", "dil_conv_3x3"]
STRATEGIES = ["darts", "anneal-ops", "metanas"]
_DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8, "BOOL": torch.bool}


# ---- files -------------------------------------------------------------------------------------

def read_safetensors(path):
    """All tensors of a safetensors file, and its metadata."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    for name, entry in header.items():
        start, end = entry["data_offsets"]
        raw = bytearray(data[8 + n + start : 8 + n + end])
        dtype = _DTYPES[entry["dtype"]]
        out[name] = torch.frombuffer(raw, dtype=dtype).reshape(entry["shape"]).clone() if raw else torch.zeros(entry["shape"], dtype=dtype)
    return out, meta


def write_safetensors(path, tensors, metadata=None):
    """Writes float32/float64/int64 tensors as a safetensors file."""
    codes = {v: k for k, v in _DTYPES.items()}
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().contiguous().cpu().numpy().tobytes()
        header[name] = {"dtype": codes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def parse_genotype(text):
    """A genotype from its JSON form or the DARTS notation, as {normal, normalConcat, reduce, reduceConcat}."""
    text = text.strip()
    if text.startswith("{"):
        g = json.loads(text)
        return {k: g[k] for k in ("normal", "normalConcat", "reduce", "reduceConcat")}
    m = re.fullmatch(r"Genotype\(normal=(.*), normal_concat=(.*), reduce=(.*), reduce_concat=(.*)\)", text, re.S)
    if not m:
        raise ValueError(f"not a genotype in DARTS notation or JSON: {text[:60]}")

    def concat(s):
        r = re.fullmatch(r"range\((\d+),\s*(\d+)\)", s.strip())
        return list(range(int(r[1]), int(r[2]))) if r else list(ast.literal_eval(s))

    cell = lambda s: [[[op, int(i)] for op, i in node] for node in ast.literal_eval(s)]
    return {"normal": cell(m[1]), "normalConcat": concat(m[2]), "reduce": cell(m[3]), "reduceConcat": concat(m[4])}


# ---- operations (the same names and order as the TypeScript modules) ----------------------------

def _bn(channels, affine):
    # Always the batch's statistics (no running averages), in training and evaluation alike.
    return nn.BatchNorm2d(channels, affine=affine, track_running_stats=False)


def _conv(cin, cout, kernel, stride=1, padding=0, dilation=1, groups=1):
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=False)


class Identity(nn.Module):
    is_identity = True

    def forward(self, x):
        return x


class PoolBN(nn.Module):
    """3x3 max or average pooling (padding 1, not counted in the average), then batch norm."""

    def __init__(self, kind, channels, stride, affine):
        super().__init__()
        self.kind, self.stride = kind, stride
        self.bn = _bn(channels, affine)

    def forward(self, x):
        if self.kind == "max":
            y = F.max_pool2d(x, 3, self.stride, 1)
        else:
            y = F.avg_pool2d(x, 3, self.stride, 1, count_include_pad=False)
        return self.bn(y)


class ReLUConvBN(nn.Module):
    def __init__(self, cin, cout, affine):
        super().__init__()
        self.conv = _conv(cin, cout, 1)
        self.bn = _bn(cout, affine)

    def forward(self, x):
        return self.bn(self.conv(F.relu(x)))


class FactorizedReduce(nn.Module):
    """Halves the resolution: two 1x1 stride-2 convs, the second on the input shifted by one pixel."""

    def __init__(self, cin, cout, affine):
        super().__init__()
        self.conv1 = _conv(cin, cout // 2, 1, stride=2)
        self.conv2 = _conv(cin, cout // 2, 1, stride=2)
        self.bn = _bn(cout, affine)

    def forward(self, x):
        r = F.relu(x)
        h, w = r.shape[2], r.shape[3]
        shifted = F.pad(r, (0, 1, 0, 1))[:, :, 1 : h + 1, 1 : w + 1]
        return self.bn(torch.cat([self.conv1(r), self.conv2(shifted)], 1))


class DilConv(nn.Module):
    """ReLU, depthwise 3x3 (stride, dilation), pointwise 1x1, batch norm."""

    def __init__(self, channels, stride, dilation, affine):
        super().__init__()
        self.depthwise = _conv(channels, channels, 3, stride, dilation, dilation, groups=channels)
        self.pointwise = _conv(channels, channels, 1)
        self.bn = _bn(channels, affine)

    def forward(self, x):
        return self.bn(self.pointwise(self.depthwise(F.relu(x))))


class SepConv(nn.Module):
    def __init__(self, channels, stride, affine):
        super().__init__()
        self.first = DilConv(channels, stride, 1, affine)
        self.second = DilConv(channels, 1, 1, affine)

    def forward(self, x):
        return self.second(self.first(x))


class FacConv(nn.Module):
    """ReLU, 1x5 conv (stride), 5x1 conv, batch norm."""

    def __init__(self, channels, stride, affine):
        super().__init__()
        self.conv1x5 = _conv(channels, channels, (1, 5), stride=stride, padding=(0, 2))
        self.conv5x1 = _conv(channels, channels, (5, 1), padding=(2, 0))
        self.bn = _bn(channels, affine)

    def forward(self, x):
        return self.bn(self.conv5x1(self.conv1x5(F.relu(x))))


OPERATIONS = {
    "max_pool_3x3": lambda c, s, a: PoolBN("max", c, s, a),
    "avg_pool_3x3": lambda c, s, a: PoolBN("avg", c, s, a),
    "skip_connect": lambda c, s, a: Identity() if s == 1 else FactorizedReduce(c, c, a),
    "conv_1x5_5x1": lambda c, s, a: FacConv(c, s, a),
    "conv_3x3": lambda c, s, a: DilConv(c, s, 1, a),
    "sep_conv_3x3": lambda c, s, a: SepConv(c, s, a),
    "dil_conv_3x3": lambda c, s, a: DilConv(c, s, 2, a),
}


def drop_path(x, p, training):
    """Zeroes a whole sample's op output with probability p (training only), scaling the rest by 1/(1-p)."""
    if not training or p <= 0:
        return x
    mask = torch.bernoulli(torch.full((x.shape[0], 1, 1, 1), 1 - p, dtype=x.dtype, device=x.device))
    return x * (mask / (1 - p))


def edge_index(node, inp):
    return node * 2 + node * (node - 1) // 2 + inp


def input_pairs(n):
    return [(a, b) for a in range(n) for b in range(a + 1, n)]


# ---- networks ----------------------------------------------------------------------------------

class _CellNetwork(nn.Module):
    """Stem (3x3 conv to stem_multiplier * C channels, batch norm), cells, global average pool, linear."""

    def __init__(self, input_channels, classes, channels, cells, reductions, out_nodes, make_cell, stem_multiplier=3):
        super().__init__()
        stem = stem_multiplier * channels
        self.stem = nn.Sequential(OrderedDict(conv=_conv(input_channels, stem, 3, padding=1), bn=_bn(stem, True)))
        self.cells = nn.ModuleList()
        pp, p, reduction_prev = stem, stem, False
        for k in range(cells):
            reduction = k in reductions
            self.cells.append(make_cell(pp, p, channels, reduction, reduction_prev))
            pp, p, reduction_prev = p, out_nodes * channels, reduction
        self.classifier = nn.Linear(p, classes)

    def _head(self, s):
        return self.classifier(s.mean(dim=(2, 3)))


def _preprocess(pp, p, c, reduction_prev, affine):
    pre0 = FactorizedReduce(pp, c, affine) if reduction_prev else ReLUConvBN(pp, c, affine)
    return pre0, ReLUConvBN(p, c, affine)


class SearchCell(nn.Module):
    def __init__(self, pp, p, c, reduction, reduction_prev, nodes):
        super().__init__()
        self.reduction, self.nodes = reduction, nodes
        self.preprocess0, self.preprocess1 = _preprocess(pp, p, c, reduction_prev, False)
        self.edges = nn.ModuleList()
        for j in range(nodes):
            for i in range(2 + j):
                stride = 2 if reduction and i < 2 else 1
                self.edges.append(nn.ModuleDict(OrderedDict((n, OPERATIONS[n](c, stride, False)) for n in OP_NAMES)))

    def forward(self, s0, s1, weights, drop_prob):
        ops, inputs = weights
        states = {}

        def state(i):
            if i not in states:
                states[i] = self.preprocess0(s0) if i == 0 else self.preprocess1(s1)
            return states[i]

        outputs = []
        for j in range(self.nodes):
            node = None
            for inp, coef in inputs[j]:
                e = edge_index(j, inp)
                x = state(inp) if inp < 2 else outputs[inp - 2]
                edge = None
                for o, w in ops[e]:
                    op = self.edges[e][OP_NAMES[o]]
                    y = op(x)
                    if not getattr(op, "is_identity", False):
                        y = drop_path(y, drop_prob, self.training)
                    term = y * w
                    edge = term if edge is None else edge + term
                if edge is None:
                    raise RuntimeError(f"cell node {j}: every op on the edge from input {inp} was pruned")
                contribution = edge if coef is None else edge * coef
                node = contribution if node is None else node + contribution
            if node is None:
                raise RuntimeError(f"cell node {j}: every input pair was pruned")
            outputs.append(node)
        return torch.cat(outputs, 1)


class SearchNetwork(_CellNetwork):
    """The one-shot network of a MetaNAS search with its architecture parameters.

    Edge = sum over ops of softmax(alpha / T) * op(x); node = sum over input pairs (a, b) of
    softmax(beta / T)_ab * (edge_a + edge_b) (strategy metanas). Ops and pairs whose weight is at or
    below `threshold` are not computed (forward pruning); the rest are not renormalised.
    """

    def __init__(self, input_channels, classes, channels, cells, reductions, nodes, strategy="metanas",
                 temperature=1.0, threshold=0.0):
        super().__init__(input_channels, classes, channels, cells, reductions, nodes,
                         lambda pp, p, c, r, rp: SearchCell(pp, p, c, r, rp, nodes))
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy}: use one of {', '.join(STRATEGIES)}")
        self.strategy, self.nodes = strategy, nodes
        self.temperature, self.threshold, self.drop_path_prob = temperature, threshold, 0.0
        edges = edge_index(nodes, 0)
        for kind in ("normal", "reduce"):
            setattr(self, f"alpha_{kind}", nn.Parameter(1e-3 * torch.randn(edges, len(OP_NAMES))))
            setattr(self, f"beta_{kind}", nn.ParameterList(
                nn.Parameter(1e-3 * torch.randn(len(input_pairs(2 + j)))) for j in range(nodes)))

    def cell_weights(self, kind):
        """Per edge the surviving (op, weight); per node the surviving (input, coefficient or None)."""
        alpha = getattr(self, f"alpha_{kind}")
        betas = getattr(self, f"beta_{kind}")
        t_ops = 1.0 if self.strategy == "darts" else self.temperature
        w = F.softmax(alpha / t_ops, dim=1)
        ops = [[(o, w[e, o]) for o in range(w.shape[1]) if w[e, o].item() > self.threshold] for e in range(w.shape[0])]
        inputs = []
        for j, beta in enumerate(betas):
            n = 2 + j
            if self.strategy != "metanas":
                inputs.append([(i, None) for i in range(n)])
                continue
            pairs = input_pairs(n)
            v = F.softmax(beta / self.temperature, dim=0)
            incidence = torch.zeros(n, len(pairs), dtype=v.dtype, device=v.device)
            for q, (a, b) in enumerate(pairs):
                if v[q].item() > self.threshold:
                    incidence[a, q] = incidence[b, q] = 1
            coefs = incidence @ v
            inputs.append([(i, coefs[i]) for i in range(n) if incidence[i].any()])
        return ops, inputs

    def forward(self, x):
        weights = {kind: self.cell_weights(kind) for kind in ("normal", "reduce")}
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, weights["reduce" if cell.reduction else "normal"], self.drop_path_prob)
        return self._head(s1)


class FixedCell(nn.Module):
    def __init__(self, pp, p, c, reduction, reduction_prev, gene, concat):
        super().__init__()
        self.gene, self.concat = gene, concat
        self.preprocess0, self.preprocess1 = _preprocess(pp, p, c, reduction_prev, True)
        self.nodes = nn.ModuleList(
            nn.ModuleList(nn.ModuleDict({op: OPERATIONS[op](c, 2 if reduction and i < 2 else 1, True)}) for op, i in node)
            for node in gene)

    def forward(self, s0, s1, drop_prob):
        states = [None, None]

        def state(i):
            if states[i] is None:
                states[i] = self.preprocess0(s0) if i == 0 else self.preprocess1(s1) if i == 1 else None
            return states[i]

        for j, node in enumerate(self.gene):
            total = None
            for n, (name, inp) in enumerate(node):
                op = self.nodes[j][n][name]
                y = op(state(inp))
                if not getattr(op, "is_identity", False):
                    y = drop_path(y, drop_prob, self.training)
                total = y if total is None else total + y
            states.append(total)
        return torch.cat([state(i) for i in self.concat], 1)


class FixedNetwork(_CellNetwork):
    """The network of a genotype (affine batch norm), as `metanas train --genotype` meta-trains it."""

    def __init__(self, input_channels, classes, channels, cells, reductions, genotype):
        def make(pp, p, c, r, rp):
            kind = "reduce" if r else "normal"
            return FixedCell(pp, p, c, r, rp, genotype[kind], genotype[f"{kind}Concat"])

        super().__init__(input_channels, classes, channels, cells, reductions, len(genotype["normalConcat"]), make)
        self.genotype, self.drop_path_prob = genotype, 0.0

    def forward(self, x):
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
        return self._head(s1)


class Conv4(nn.Module):
    """The MAML/REPTILE baseline: four blocks of 3x3 conv, batch norm, ReLU, then 2x2 max-pool
    ("maxpool") or, with stride-2 convolutions, no pooling ("stride", REPTILE's Omniglot model); linear."""

    def __init__(self, input_channels, classes, channels, features, downsampling="maxpool"):
        super().__init__()
        self.pool = downsampling == "maxpool"
        stride = 1 if self.pool else 2
        for k in range(4):
            conv = _conv(input_channels if k == 0 else channels, channels, 3, stride=stride, padding=1)
            setattr(self, f"block{k}", nn.Sequential(OrderedDict(conv=conv, bn=_bn(channels, True))))
        self.classifier = nn.Linear(features, classes)

    def forward(self, x):
        for k in range(4):
            x = F.relu(getattr(self, f"block{k}")(x))
            if self.pool:
                x = F.max_pool2d(x, 2)
        return self.classifier(x.flatten(1))


# ---- run directories ----------------------------------------------------------------------------

def _arch_name(name):
    """Checkpoint name of an architecture tensor -> the module's: alpha.normal -> alpha_normal, beta.reduce.2 -> beta_reduce.2."""
    kind, cell, *rest = name.split(".")
    return ".".join([f"{kind}_{cell}", *rest])


def load_run(run_dir, temperature=None, threshold=None):
    """The nn.Module of a metanas run directory, with the weights of its latest checkpoint.

    For a search run, `temperature` and `threshold` set the forward pass (default: the run's
    t-max and meta-test threshold); they stay attributes of the module that can be changed.
    A task network saved by `metanas predict --save DIR` loads the same way: its task.json gives
    the adapted task's temperature and threshold as the defaults, and its class names in output order.
    """
    with open(os.path.join(run_dir, "config.json")) as f:
        config = json.load(f)
    task_file = os.path.join(run_dir, "task.json")
    if os.path.exists(task_file):
        with open(task_file) as f:
            task = json.load(f)
        temperature = task["temperature"] if temperature is None else temperature
        threshold = task["threshold"] if threshold is None else threshold
    tensors, _ = read_safetensors(os.path.join(run_dir, "checkpoint.safetensors"))
    state = OrderedDict((k[len("weights/"):], v) for k, v in tensors.items() if k.startswith("weights/"))
    state.update((_arch_name(k[len("arch/"):]), v) for k, v in tensors.items() if k.startswith("arch/"))
    input_channels = state["stem.conv.weight" if "stem.conv.weight" in state else "block0.conv.weight"].shape[1]
    model, ways = config["model"], config["ways"]
    if model == "conv4":
        net = Conv4(input_channels, ways, config["conv4Channels"], state["classifier.weight"].shape[1],
                    config.get("conv4Downsampling", "maxpool"))
    elif model == "fixed":
        path = os.path.join(run_dir, "genotype.json")
        genotype = parse_genotype(open(path).read() if os.path.exists(path) else config["genotype"])
        net = FixedNetwork(input_channels, ways, config["channels"], config["cells"], config["reductions"], genotype)
    else:
        net = SearchNetwork(input_channels, ways, config["channels"], config["cells"], config["reductions"],
                            config["nodes"], config["strategy"],
                            config["tMax"] if temperature is None else temperature,
                            config["testThreshold"] if threshold is None else threshold)
    net.load_state_dict(state, strict=True)
    if os.path.exists(task_file):
        net.classes = task["classes"]
    return net


def main():
    parser = argparse.ArgumentParser(description="A metanas run directory as a PyTorch module.")
    parser.add_argument("run_dir")
    parser.add_argument("--logits", metavar="IMAGES.safetensors", help="print the logits (JSON) for the tensor 'images' in this file")
    parser.add_argument("--temperature", type=float, help="search runs: temperature of the forward pass")
    parser.add_argument("--threshold", type=float, help="search runs: forward-pruning threshold")
    a = parser.parse_args()
    torch.set_num_threads(1)
    net = load_run(a.run_dir, a.temperature, a.threshold)
    if a.logits:
        images = read_safetensors(a.logits)[0]["images"]
        with torch.no_grad():
            logits = net(images)
        print(json.dumps({"shape": list(logits.shape), "logits": logits.flatten().tolist()}))
        return
    params = sum(p.numel() for n, p in net.named_parameters() if not n.startswith(("alpha_", "beta_")))
    print(f"{type(net).__name__} with {params:,} weights")
    if isinstance(net, SearchNetwork):
        print(f"architecture parameters: {sum(p.numel() for n, p in net.named_parameters() if n.startswith(('alpha_', 'beta_')))}"
              f"; temperature {net.temperature}, threshold {net.threshold}, strategy {net.strategy}")


if __name__ == "__main__":
    main()
