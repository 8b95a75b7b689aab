"""Benchmark: NIfTI loading against nibabel and zlib's own inflate, in the same run.

Files: mricron's aal.nii.gz (181x217x181 uint8) and a generated 512x512x400 uint8
label map (.nii.gz, nibabel-written, smooth blobs so it compresses like a real
segmentation).  For each: median of N runs of nibabel load + np.asanyarray,
of our nifti_read, and of a bare gzread of the whole file into one buffer.
Output is TAP with the figures as comments; the test fails if we are slower
than nibabel.  Environment: BENCH_NIFTI = path of tests/bench-nifti.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import nibabel as nib
import numpy as np

BENCH = os.environ.get("BENCH_NIFTI", "build/tests/bench-nifti")
RUNS = int(os.environ.get("BENCH_RUNS", "7"))


def big_volume(path):
    rng = np.random.default_rng(7)
    shape = (512, 512, 400)
    data = np.zeros(shape, np.uint8)
    # 40 ellipsoidal "organs" on a coarse grid, painted slab by slab to bound memory
    centres = rng.uniform([60, 60, 40], [452, 452, 360], size=(40, 3))
    radii = rng.uniform(15, 70, size=(40, 3))
    z = np.arange(shape[2])
    x, y = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    for label, (c, r) in enumerate(zip(centres, radii), start=1):
        for k in range(max(0, int(c[2] - r[2])), min(shape[2], int(c[2] + r[2]) + 1)):
            dz = ((k - c[2]) / r[2]) ** 2
            mask = ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + dz <= 1
            data[:, :, k][mask] = label
    nib.save(nib.Nifti1Image(data, np.diag([0.8, 0.8, 1.0, 1.0])), path)


def time_nibabel(path):
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        arr = np.asanyarray(nib.load(path).dataobj)
        times.append((time.perf_counter() - t0) * 1000)
        del arr
    return statistics.median(times)


def main():
    tmp = tempfile.mkdtemp(prefix="bench-nifti-")
    files = []
    aal = "/usr/share/mricron/templates/aal.nii.gz"
    if os.path.exists(aal):
        files.append(aal)
    big = os.path.join(tmp, "big512x512x400.nii.gz")
    big_volume(big)
    files.append(big)
    n = 0
    failed = False
    for path in files:
        nib_ms = time_nibabel(path)
        out = subprocess.run([BENCH, path, str(RUNS)], capture_output=True, text=True, check=True)
        res = json.loads(out.stdout)
        n += 1
        ratio = nib_ms / res["ours_ms"]
        ok = res["ours_ms"] <= nib_ms * 1.05
        failed |= not ok
        print(f"{'ok' if ok else 'not ok'} {n} - load {os.path.basename(path)}: ours {res['ours_ms']:.1f} ms, "
              f"nibabel {nib_ms:.1f} ms ({ratio:.2f}x faster), bare zlib inflate {res['zlib_inflate_ms']:.1f} ms "
              f"(ours = {res['ours_ms'] / res['zlib_inflate_ms']:.2f}x inflate), {os.path.getsize(path) / 1e6:.1f} MB "
              f"compressed, {res['voxels'] / 1e6:.1f} M voxels, median of {RUNS}")
    print(f"1..{n}")
    os.unlink(big)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
