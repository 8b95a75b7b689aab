#!/usr/bin/python3
"""Writes the PyTorch golden files for the network engine (tests/test-nn-golden.c).

Run with Debian's python3-torch:  /usr/bin/python3 tests/golden/make_golden.py [OUTDIR]
(default OUTDIR: tests/golden/nn beside this script).  Deterministic (fixed seeds).

ops.safetensors: inputs, weights and outputs of each op on small odd shapes; the
shapes and hyper-parameters are repeated in tests/test-nn-golden.c.
<arch>.safetensors: a tiny model of each architecture in the app's model format,
<arch>-io.safetensors: its input labels (as float) and output probabilities.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import anatomy_nets as an  # noqa: E402

torch.set_num_threads(1)
torch.backends.mkldnn.enabled = False  # reference arithmetic, not speed


def rnd(gen, *shape):
    return torch.rand(*shape, generator=gen) * 2 - 1


def make_ops(outdir):
    g = torch.Generator().manual_seed(1234)
    t = []
    # conv3d: x (3,5,6,7), w (4,3,3,2,3), stride (1,2,1), padding (1,0,1), bias, no activation
    x = rnd(g, 1, 3, 5, 6, 7)
    w = rnd(g, 4, 3, 3, 2, 3)
    b = rnd(g, 4)
    y = F.conv3d(x, w, b, stride=(1, 2, 1), padding=(1, 0, 1))
    t += [("conv.x", x[0]), ("conv.w", w), ("conv.b", b), ("conv.y", y[0])]
    # conv3d 3^3 stride 2 padding 1 with LeakyReLU(0.1): x (2,7,5,9), w (5,2,3,3,3)
    x = rnd(g, 1, 2, 7, 5, 9)
    w = rnd(g, 5, 2, 3, 3, 3)
    b = rnd(g, 5)
    y = F.leaky_relu(F.conv3d(x, w, b, stride=2, padding=1), 0.1)
    t += [("conv2.x", x[0]), ("conv2.w", w), ("conv2.b", b), ("conv2.y", y[0])]
    # transposed conv 2^3 stride 2: x (4,3,4,5), w (4,3,2,2,2)
    x = rnd(g, 1, 4, 3, 4, 5)
    w = rnd(g, 4, 3, 2, 2, 2)
    b = rnd(g, 3)
    y = F.conv_transpose3d(x, w, b, stride=2)
    t += [("convt.x", x[0]), ("convt.w", w), ("convt.b", b), ("convt.y", y[0])]
    # transposed conv 3^3 stride 2 padding 1 (overlapping): x (3,3,4,3), w (3,2,3,3,3)
    x = rnd(g, 1, 3, 3, 4, 3)
    w = rnd(g, 3, 2, 3, 3, 3)
    b = rnd(g, 2)
    y = F.conv_transpose3d(x, w, b, stride=2, padding=1)
    t += [("convt2.x", x[0]), ("convt2.w", w), ("convt2.b", b), ("convt2.y", y[0])]
    # max pool 2 stride 2 on odd sizes (floor), and 3 stride 1 padding 1: x (3,6,5,7)
    x = rnd(g, 1, 3, 6, 5, 7)
    t += [("pool.x", x[0]), ("pool2.y", F.max_pool3d(x, 2)[0]),
          ("pool3.y", F.max_pool3d(x, 3, stride=1, padding=1)[0])]
    # conv 3^3 padding 1 without bias, then eval BatchNorm (eps 1e-5), then ReLU: x (3,4,5,6), w (4,3,3,3,3)
    x = rnd(g, 1, 3, 4, 5, 6)
    w = rnd(g, 4, 3, 3, 3, 3)
    gamma, beta = torch.rand(4, generator=g) + 0.5, rnd(g, 4) * 0.2
    mean, var = rnd(g, 4) * 0.3, torch.rand(4, generator=g) + 0.5
    y = F.relu(F.batch_norm(F.conv3d(x, w, padding=1), mean, var, gamma, beta, False, 0.0, 1e-5))
    t += [("bn.x", x[0]), ("bn.w", w), ("bn.gamma", gamma), ("bn.beta", beta), ("bn.mean", mean),
          ("bn.var", var), ("bn.y", y[0])]
    # softmax across 13 channels: x (13,3,4,5) scaled to +-8
    x = rnd(g, 1, 13, 3, 4, 5) * 8
    t += [("softmax.x", x[0]), ("softmax.y", torch.softmax(x, 1)[0])]
    # trilinear, align_corners=False: (3,4,5,6) -> (7,9,11) and (3,8,8,8) -> (5,3,6)
    x = rnd(g, 1, 3, 4, 5, 6)
    t += [("up.x", x[0]), ("up.y", F.interpolate(x, size=(7, 9, 11), mode="trilinear", align_corners=False)[0])]
    x = rnd(g, 1, 3, 8, 8, 8)
    t += [("down.x", x[0]), ("down.y", F.interpolate(x, size=(5, 3, 6), mode="trilinear", align_corners=False)[0])]
    # activations: x (1000)
    x = rnd(g, 1000) * 3
    t += [("act.x", x), ("act.relu", F.relu(x)), ("act.leaky", F.leaky_relu(x, 0.01))]
    an.save_safetensors(os.path.join(outdir, "ops.safetensors"), t,
                        {"generator": "tests/golden/make_golden.py", "torch": torch.__version__})


ARCHS = [
    ("unet", dict(widths=[4, 8, 16], blocks=2, activation="relu")),
    ("unet-skip", dict(widths=[4, 8, 16], blocks=2, activation="leaky_relu")),
    ("googlenet-skip", dict(widths=[8, 8, 16], blocks=1, activation="relu")),
]


def make_arch(outdir, arch, extra, seed):
    cfg = {"arch": arch, "in_channels": 13, "n_classes": 13, "leaky_slope": 0.01, "bn_eps": 1e-5,
           "grid": [16, 16, 16]}
    cfg.update(extra)
    torch.manual_seed(seed)
    model = an.CompletionNet(cfg)
    g = torch.Generator().manual_seed(seed)
    an.randomize_bn(model, g)
    model.eval()
    # labels (D, H, W) = (16, 12, 8): anisotropic to catch axis mix-ups
    labels = torch.randint(0, 13, (16, 12, 8), generator=g)
    x = F.one_hot(labels, 13).permute(3, 0, 1, 2).unsqueeze(0).float()
    with torch.no_grad():
        y = model(x)
    prov = {"tool": "tests/golden/make_golden.py", "seed": seed, "torch": torch.__version__}
    an.save_safetensors(os.path.join(outdir, arch + ".safetensors"), an.state_tensors(model),
                        an.config_metadata(cfg, prov))
    an.save_safetensors(os.path.join(outdir, arch + "-io.safetensors"),
                        [("labels", labels.float()), ("probs", y[0])])


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "nn")
    os.makedirs(outdir, exist_ok=True)
    make_ops(outdir)
    for i, (arch, extra) in enumerate(ARCHS):
        make_arch(outdir, arch, extra, 100 + i)
    print("wrote golden files to", outdir)


if __name__ == "__main__":
    main()
