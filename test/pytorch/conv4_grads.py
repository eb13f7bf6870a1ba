"""Conv4 (python/metanas_torch.py) on given weights and images: logits, loss and every weight's gradient.

Usage: conv4_grads.py IN.safetensors DOWNSAMPLING; IN holds weights/<name>, images, labels (float64).
Prints JSON {"logits": [...], "loss": x, "grads": {name: [...]}}.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
from metanas_torch import Conv4, read_safetensors  # noqa: E402

torch.set_num_threads(1)
tensors, _ = read_safetensors(sys.argv[1])
state = {k[len("weights/"):]: v for k, v in tensors.items() if k.startswith("weights/")}
images, labels = tensors["images"], tensors["labels"].long()
net = Conv4(images.shape[1], state["classifier.weight"].shape[0], state["block0.conv.weight"].shape[0],
            state["classifier.weight"].shape[1], sys.argv[2]).double()
net.load_state_dict(state, strict=True)
logits = net(images)
loss = F.cross_entropy(logits, labels)
loss.backward()
grads = {n: p.grad.flatten().tolist() for n, p in net.named_parameters()}
print(json.dumps({"logits": logits.flatten().tolist(), "loss": loss.item(), "grads": grads}))
