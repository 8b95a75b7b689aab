#!/usr/bin/python3
"""Benchmark (suite bench): one training step at 64^3 in C (tests/bench-train.c) against
PyTorch 1.13 (tests/golden/torch_train_bench.py) on the same architecture, weights and
thread count, measured alternately in the same run.  Speaks TAP.

Environment: BENCH_TRAIN (the C benchmark), ANATOMY (for init-model);
BENCH_TRAIN_GRID (64), BENCH_TRAIN_THREADS ("1 2"), BENCH_TRAIN_REPEATS (3).
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
# the shipped configurations (data/models: 64^3, widths 16-32-64-128, one unit per level)
ARCHS = [("unet", "16,32,64,128", 1), ("unet-skip", "16,32,64,128", 1), ("googlenet-skip", "16,32,64,128", 1)]


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    grid = int(os.environ.get("BENCH_TRAIN_GRID", "64"))
    threads = [int(t) for t in os.environ.get("BENCH_TRAIN_THREADS", "1 2").split()]
    repeats = os.environ.get("BENCH_TRAIN_REPEATS", "3")
    c_bench = os.environ["BENCH_TRAIN"]
    anatomy = os.environ["ANATOMY"]
    tests = [(a, t) for a in ARCHS for t in threads]
    print("1..%d" % len(tests))
    with tempfile.TemporaryDirectory() as tmp:
        for i, ((arch, widths, blocks), t) in enumerate(tests, 1):
            model = os.path.join(tmp, arch + ".safetensors")
            subprocess.run([anatomy, "init-model", "--arch", arch, "--widths", widths, "--blocks", str(blocks),
                            "--grid", str(grid), "--seed", "3", "--force", "--out", model], check=True,
                           capture_output=True)
            cs, ts = [], []
            for _ in range(2):  # alternate so both see the same machine load
                c = run_json([c_bench, model, str(grid), str(t), repeats])
                p = run_json(["/usr/bin/python3", os.path.join(HERE, "golden", "torch_train_bench.py"), "--model", model,
                              "--grid", str(grid), "--threads", str(t), "--repeats", repeats])
                cs.append(c["median_s"])
                ts.append(p["median_s"])
            c_med, t_med = statistics.median(cs), statistics.median(ts)
            ratio = t_med / c_med
            ok = ratio >= 1.0
            print("%s %d - train step %s %d^3 %d thread(s): C %.3f s, PyTorch %s %.3f s, PyTorch/C %.2f, "
                  "peak RSS C %.0f MiB, PyTorch %.0f MiB"
                  % ("ok" if ok else "not ok", i, arch, grid, t, c_med, p["torch"], t_med, ratio,
                     c["peak_rss_mib"], p["peak_rss_mib"]))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
