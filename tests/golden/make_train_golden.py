#!/usr/bin/python3
"""Writes the PyTorch autograd golden files of the training code (tests/test-nn-train-golden.c).

Run with Debian's python3-torch:  /usr/bin/python3 tests/golden/make_train_golden.py [OUTDIR]
(default OUTDIR: tests/golden/train beside this script).  Deterministic (fixed seeds).

For each architecture, a tiny network in training mode (BatchNorm on the sample's
statistics) gets a one-hot input and target labels; the loss is the app's
(nn-backward.h): weighted cross-entropy (removed organs count 1 + removed_weight)
plus soft Dice over the classes.  Files:
  <arch>.safetensors        the model before the step (app model format)
  <arch>-step.safetensors   input, target, loss [total, ce, dice], grad.<param> for
                            every trainable parameter, after.<running stat> after the
                            forward pass, and step1.<param> after one torch.optim.AdamW
                            step (lr 1e-2, weight decay 1e-4 on convolution weights only)
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import anatomy_nets as an  # noqa: E402

REMOVED_WEIGHT = 2.0
REMOVED_MASK = (1 << 3) | (1 << 8) | (1 << 10)
LR = 1e-2
WD = 1e-4


def app_loss(prob, target, removed_mask, removed_weight, smooth=1.0):
    """prob (1, C, D, H, W) softmax output; target (D, H, W) int64."""
    C = prob.shape[1]
    p = prob[0].reshape(C, -1)
    t = target.reshape(-1)
    removed = torch.tensor([(removed_mask >> c) & 1 for c in range(C)], dtype=torch.float64)
    w = 1.0 + removed_weight * removed[t]
    pt = p.gather(0, t.unsqueeze(0))[0].double()
    ce = (w * -torch.log(pt.clamp_min(1e-12))).sum() / w.sum()
    g = F.one_hot(t, C).t().double()
    pd = p.double()
    inter = (pd * g).sum(1)
    den = pd.sum(1) + g.sum(1) + smooth
    dice = 1.0 - ((2 * inter + smooth) / den).mean()
    return ce + dice, ce, dice


def make(outdir, arch, widths, act, seed):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    D, H, W = 8, 6, 10
    cfg = {"arch": arch, "in_channels": 13, "n_classes": 13, "leaky_slope": 0.1, "bn_eps": 1e-5,
           "widths": widths, "blocks": 1, "activation": act, "grid": [W, H, D]}
    model = an.CompletionNet(cfg)
    an.randomize_bn(model, gen)
    prov = {"tool": "tests/golden/make_train_golden.py", "seed": seed, "trained": False}
    an.save_safetensors(os.path.join(outdir, arch + ".safetensors"), an.state_tensors(model),
                        an.config_metadata(cfg, prov))
    labels = torch.randint(0, 13, (D, H, W), generator=gen)
    target = torch.where(torch.rand(D, H, W, generator=gen) < 0.5, labels,
                         torch.randint(0, 13, (D, H, W), generator=gen))
    x = F.one_hot(labels, 13).permute(3, 0, 1, 2).unsqueeze(0).float()
    model.train()
    prob = model(x)
    total, ce, dice = app_loss(prob, target, REMOVED_MASK, REMOVED_WEIGHT)
    total.backward()
    t = [("input", x[0]), ("target", target.float()),
         ("loss", torch.tensor([total.item(), ce.item(), dice.item()]))]
    for name, p in model.named_parameters():
        t.append(("grad." + name, p.grad))
    for name, b in model.named_buffers():
        if not name.endswith("num_batches_tracked"):
            t.append(("after." + name, b))
    decay = [p for n, p in model.named_parameters() if p.dim() == 5]
    other = [p for n, p in model.named_parameters() if p.dim() != 5]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": other, "weight_decay": 0.0}],
                            lr=LR, betas=(0.9, 0.999), eps=1e-8)
    opt.step()
    for name, p in model.named_parameters():
        t.append(("step1." + name, p.detach()))
    an.save_safetensors(os.path.join(outdir, arch + "-step.safetensors"), t,
                        {"removed_mask": str(REMOVED_MASK), "removed_weight": repr(REMOVED_WEIGHT),
                         "lr": repr(LR), "weight_decay": repr(WD)})


def main():
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False  # reference arithmetic (not when imported for app_loss)
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "train")
    os.makedirs(outdir, exist_ok=True)
    make(outdir, "unet", [4, 8], "relu", 31)
    make(outdir, "unet-skip", [4, 8], "leaky_relu", 32)
    make(outdir, "googlenet-skip", [8, 16], "relu", 33)
    print("wrote", outdir)


if __name__ == "__main__":
    main()
