"""PyTorch definitions of the three completion networks and a safetensors reader/writer.

The module names are the tensor names of the C engine (model/nn-net.c), so a
state_dict saved here loads there and the reverse; docs/model-format.md
describes the file.  Uses only Debian's python3-torch (no safetensors package).
"""
import json
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

FORMAT_NAME = "anatomy-completion-network"
CLASS_NAMES = ["background", "lung", "heart", "spleen", "stomach", "pancreas", "spine",
               "rib cage", "liver", "kidney", "aorta", "autochthon", "pulmonary artery"]


def make_act(cfg):
    if cfg["activation"] == "leaky_relu":
        return nn.LeakyReLU(cfg["leaky_slope"])
    return nn.ReLU()


class ConvBN(nn.Module):
    """Conv3d k^3 (padding k//2, no bias) -> BatchNorm3d -> activation."""

    def __init__(self, cin, cout, k, cfg):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, k, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm3d(cout, eps=cfg["bn_eps"])
        self.act = make_act(cfg)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Parallel 1^3 | 1^3->3^3 | 1^3->3^3->3^3 | maxpool 3^3 -> 1^3, cout/4 channels each, concatenated."""

    def __init__(self, cin, cout, cfg):
        super().__init__()
        c = cout // 4
        self.b1 = ConvBN(cin, c, 1, cfg)
        self.b2 = nn.Sequential(ConvBN(cin, c, 1, cfg), ConvBN(c, c, 3, cfg))
        self.b3 = nn.Sequential(ConvBN(cin, c, 1, cfg), ConvBN(c, c, 3, cfg), ConvBN(c, c, 3, cfg))
        self.b4 = nn.Sequential(nn.MaxPool3d(3, stride=1, padding=1), ConvBN(cin, c, 1, cfg))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


class CompletionNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        w = cfg["widths"]
        L = len(w)
        self.skip = cfg["arch"] != "unet"
        inception = cfg["arch"] == "googlenet-skip"

        def unit(cin, cout):
            return Inception(cin, cout, cfg) if inception else ConvBN(cin, cout, 3, cfg)

        def block(cin, cout):
            return nn.ModuleList([unit(cin if j == 0 else cout, cout) for j in range(cfg["blocks"])])

        self.enc = nn.ModuleList([block(cfg["in_channels"] if i == 0 else w[i - 1], w[i]) for i in range(L)])
        self.up = nn.ModuleList([nn.ConvTranspose3d(w[i + 1], w[i], 2, stride=2) for i in range(L - 1)])
        self.dec = nn.ModuleList([block(2 * w[i] if self.skip else w[i], w[i]) for i in range(L - 1)])
        self.head = nn.Conv3d(w[0], cfg["n_classes"], 1)

    def forward(self, x):
        L = len(self.cfg["widths"])
        skips = []
        h = x
        for i in range(L):
            if i > 0:
                h = F.max_pool3d(h, 2)
            for u in self.enc[i]:
                h = u(h)
            skips.append(h)
        for i in range(L - 2, -1, -1):
            u = self.up[i](h)
            h = torch.cat([u, skips[i]], 1) if self.skip else u
            for m in self.dec[i]:
                h = m(h)
        return torch.softmax(self.head(h), dim=1)


def randomize_bn(model, gen):
    """Non-trivial BatchNorm statistics so that folding is really exercised."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm3d):
            n = m.num_features
            m.weight.data = torch.rand(n, generator=gen) * 1.0 + 0.5
            m.bias.data = torch.rand(n, generator=gen) * 0.2 - 0.1
            m.running_mean.data = torch.rand(n, generator=gen) * 0.2 - 0.1
            m.running_var.data = torch.rand(n, generator=gen) * 1.0 + 0.5


def config_metadata(cfg, provenance):
    labels = [{"id": i, "name": CLASS_NAMES[i] if cfg["n_classes"] == 13 else "class %d" % i}
              for i in range(cfg["n_classes"])]
    return {
        "format": FORMAT_NAME,
        "format_version": "1",
        "arch": cfg["arch"],
        "in_channels": str(cfg["in_channels"]),
        "n_classes": str(cfg["n_classes"]),
        "depth": str(len(cfg["widths"])),
        "widths": ",".join(str(x) for x in cfg["widths"]),
        "blocks": str(cfg["blocks"]),
        "activation": cfg["activation"],
        "leaky_slope": repr(float(cfg["leaky_slope"])),
        "bn_eps": repr(float(cfg["bn_eps"])),
        "grid": ",".join(str(x) for x in cfg["grid"]),
        "labels": json.dumps(labels),
        "layout": "NCDHW, batch 1, D=z H=y W=x; input one-hot labels, output softmax",
        "provenance": json.dumps(provenance),
    }


def config_from_metadata(meta):
    return {
        "arch": meta["arch"],
        "in_channels": int(meta["in_channels"]),
        "n_classes": int(meta["n_classes"]),
        "widths": [int(x) for x in meta["widths"].split(",")],
        "blocks": int(meta["blocks"]),
        "activation": meta["activation"],
        "leaky_slope": float(meta.get("leaky_slope", "0.01")),
        "bn_eps": float(meta["bn_eps"]),
        "grid": [int(x) for x in meta["grid"].split(",")],
    }


def save_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, float32 tensor); written in that order."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    blobs = []
    for name, t in tensors:
        t = t.detach().to(torch.float32).contiguous()
        data = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    """Returns (metadata dict, {name: float32 tensor})."""
    import numpy as np
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", name
        b, en = e["data_offsets"]
        arr = np.frombuffer(raw[base + b:base + en], dtype="<f4").reshape(e["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return meta, out


def state_tensors(model):
    """The state_dict as (name, tensor) pairs, without num_batches_tracked."""
    return [(k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]


def load_model(path):
    meta, tensors = load_safetensors(path)
    cfg = config_from_metadata(meta)
    model = CompletionNet(cfg)
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError("%s: missing %s unexpected %s" % (path, missing, unexpected))
    model.eval()
    return cfg, model
