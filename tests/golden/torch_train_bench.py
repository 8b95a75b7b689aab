#!/usr/bin/python3
"""Times one training step of a completion network in PyTorch (the peer of tests/bench-train.c).

/usr/bin/python3 tests/golden/torch_train_bench.py --model F.safetensors --grid 64 --threads 1 --repeats 3
A step is what `anatomy train` does: forward in training mode (batch 1), the app's loss
(weighted cross-entropy + soft Dice, tests/golden/make_train_golden.py), backward, gradient
norm clipping and one AdamW update.  Prints one JSON line.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import anatomy_nets as an  # noqa: E402
from make_train_golden import app_loss  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--grid", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg, model = an.load_model(a.model)
    model.train()
    g = torch.Generator().manual_seed(7)
    n = a.grid
    labels = torch.randint(0, cfg["in_channels"], (n, n, n), generator=g)
    target = torch.where(torch.rand(n, n, n, generator=g) < 0.5, labels,
                         torch.randint(0, cfg["in_channels"], (n, n, n), generator=g))
    x = F.one_hot(labels, cfg["in_channels"]).permute(3, 0, 1, 2).unsqueeze(0).float().contiguous()
    decay = [p for p in model.parameters() if p.dim() == 5]
    other = [p for p in model.parameters() if p.dim() != 5]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 1e-4}, {"params": other, "weight_decay": 0.0}],
                            lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=False)
        total, _, _ = app_loss(model(x), target, 1 << 8, 2.0)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()

    step()  # warm-up
    times = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"median_s": statistics.median(times), "times": times, "peak_rss_mib": peak,
                      "torch": torch.__version__,
                      "mkldnn": torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
