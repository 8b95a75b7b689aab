#!/usr/bin/python3
"""Times a completion network in PyTorch (the peer of `anatomy bench nn`).

/usr/bin/python3 tests/golden/torch_bench.py --model F.safetensors --grid 128 --threads 2 --repeats 3
Prints one JSON line: median seconds per forward, FLOP count is left to the caller,
peak RSS of this process (MiB) and the RSS before the first forward.

With --serve (what `anatomy bench nn` uses): after loading and one warm-up pass, prints a
JSON line describing the case, then times one forward pass per "run" line on stdin and
prints {"s": seconds}; at "quit" or end of input prints {"peak_rss_mib": ...}.
--grid 0 (or none with --serve) is the model's own grid.
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


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def serve(model, x, dims, base):
    with torch.no_grad():
        model(x)  # warm-up (oneDNN primitive creation)
        print(json.dumps({"grid": list(dims), "torch": torch.__version__, "threads": torch.get_num_threads(),
                          "rss_before_mib": base}), flush=True)
        for line in sys.stdin:
            if not line.startswith("run"):
                break
            t0 = time.perf_counter()
            y = model(x)
            dt = time.perf_counter() - t0
            del y
            print(json.dumps({"s": dt}), flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"peak_rss_mib": peak}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--grid", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--serve", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg, model = an.load_model(a.model)
    if a.grid:
        dims = (a.grid, a.grid, a.grid)
    elif a.serve or a.grid == 0:
        nx, ny, nz = cfg["grid"]
        dims = (nz, ny, nx)   # (D, H, W)
    else:
        dims = (64, 64, 64)
    g = torch.Generator().manual_seed(7)
    labels = torch.randint(0, cfg["in_channels"], dims, generator=g)
    x = F.one_hot(labels, cfg["in_channels"]).permute(3, 0, 1, 2).unsqueeze(0).float().contiguous()
    del labels
    base = rss_mib()
    if a.serve:
        serve(model, x, dims, base)
        return
    times = []
    with torch.no_grad():
        model(x)  # warm-up (oneDNN primitive creation)
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            y = model(x)
            times.append(time.perf_counter() - t0)
            del y
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"median_s": statistics.median(times), "times": times, "peak_rss_mib": peak,
                      "rss_before_mib": base, "torch": torch.__version__,
                      "mkldnn": torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
