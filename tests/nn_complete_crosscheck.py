#!/usr/bin/python3
"""End-to-end check of `anatomy complete` against the same completion done in PyTorch.

A seeded random-weight model (anatomy init-model) completes an anisotropic label
map written with nibabel; PyTorch (tests/golden/anatomy_nets.py) loads the same
file and does the same steps: nearest resample (source index floor((d + 0.5) *
in / out)), forward, trilinear back (align_corners=False), argmax over background and the
selected organs, merge, then scipy.ndimage.label drops the pieces of an added organ
under 10 % of its largest piece.
Speaks TAP.
"""
import os
import subprocess
import sys
import tempfile

import nibabel as nib
import numpy as np
from scipy import ndimage
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "golden"))
import anatomy_nets as an  # noqa: E402

ANATOMY = os.environ.get("ANATOMY", "anatomy")
n_test = 0
failed = 0


def ok(cond, what):
    global n_test, failed
    n_test += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n_test, what), flush=True)
    if not cond:
        failed += 1


def run(*args, env=None):
    return subprocess.run([ANATOMY] + list(args), capture_output=True, text=True, env=env)


def torch_complete(model_path, vol, selected):
    cfg, model = an.load_model(model_path)
    gx, gy, gz = cfg["grid"]
    nx, ny, nz = vol.shape  # nibabel order: x, y, z
    ix = np.minimum(np.floor((np.arange(gx) + 0.5) * nx / gx).astype(int), nx - 1)
    iy = np.minimum(np.floor((np.arange(gy) + 0.5) * ny / gy).astype(int), ny - 1)
    iz = np.minimum(np.floor((np.arange(gz) + 0.5) * nz / gz).astype(int), nz - 1)
    small = vol[np.ix_(ix, iy, iz)]                      # (gx, gy, gz)
    small = np.where((small >= 0) & (small < 13), small, 0)
    t = torch.from_numpy(small.transpose(2, 1, 0).copy()).long()   # (D, H, W) = (z, y, x)
    x = F.one_hot(t, 13).permute(3, 0, 1, 2).unsqueeze(0).float()
    with torch.no_grad():
        p = model(x)
        big = F.interpolate(p, size=(nz, ny, nx), mode="trilinear", align_corners=False)[0]
    # argmax over background and the selected organs only
    cand = [0] + list(selected)
    pred = np.array(cand)[big[cand].argmax(0).numpy()].transpose(2, 1, 0)   # back to (x, y, z)
    out = vol.copy()
    add = (vol == 0) & (pred != 0)
    out[add] = pred[add]
    # pieces (face-connected, scipy's default structure) of an added organ under 10 % of
    # its largest piece go back to background
    for c in selected:
        comp, n = ndimage.label(add & (pred == c))
        if n == 0:
            continue
        sizes = np.bincount(comp.ravel())[1:]
        small = np.flatnonzero(sizes < 0.1 * sizes.max()) + 1
        out[np.isin(comp, small)] = 0
    return out


def main():
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "m.safetensors")
        r = run("init-model", "--arch", "unet-skip", "--widths", "4,8,8", "--blocks", "1", "--grid", "24",
                "--seed", "3", "--out", model)
        ok(r.returncode == 0, "init-model writes a seeded model: " + r.stdout.strip())

        rng = np.random.default_rng(5)
        vol = np.zeros((37, 29, 21), np.uint8)
        vol[5:30, 4:25, 3:18] = rng.integers(0, 13, (25, 21, 15))
        vol[rng.random(vol.shape) < 0.5] = 0
        img = nib.Nifti1Image(vol, np.diag([1.5, 1.0, 2.5, 1.0]))
        inp, outp, probp = (os.path.join(tmp, n) for n in ("in.nii.gz", "out.nii.gz", "p.nii.gz"))
        nib.save(img, inp)

        r = run("complete", inp, outp, "--model", model, "--labels", "heart,Liver,9", "--probabilities", probp,
                "--threads", "2")
        ok(r.returncode == 0, "complete runs (%s)" % (r.stderr.strip() or r.stdout.strip().splitlines()[0]))
        out = np.asarray(nib.load(outp).dataobj)
        ok(out.shape == vol.shape and np.allclose(nib.load(outp).affine, img.affine), "geometry kept")
        ok(np.array_equal(out[vol != 0], vol[vol != 0]), "labelled voxels keep their label")
        new = out[(vol == 0) & (out != 0)]
        ok(np.isin(new, [2, 8, 9]).all(), "only selected organs added (%d voxels)" % new.size)
        ref = torch_complete(model, vol, [2, 8, 9])
        mismatch = int((ref != out).sum())
        ok(mismatch <= vol.size // 2000, "matches PyTorch completion (%d of %d voxels differ)" % (mismatch, vol.size))
        prob = np.asarray(nib.load(probp).dataobj)
        ok(prob.shape == vol.shape and prob.max() <= 100 and prob.min() >= 0, "probability map in percent")

        r = run("complete", inp, outp, "--model", model)
        ok(r.returncode != 0 and "exists" in r.stderr, "refuses to overwrite without --force")
        r = run("complete", inp, outp, "--model", model, "--labels", "livr", "--force")
        ok(r.returncode != 0 and "unknown organ" in r.stderr, "unknown organ named")
        env = dict(os.environ, ANATOMY_MODELS_DIR=tmp)
        r = run("complete", inp, outp, "--model", "googlenet-skip", "--force", env=env)
        ok(r.returncode != 0 and "init-model" in r.stderr and "googlenet-skip.safetensors" in r.stderr,
           "says clearly when a shipped model is missing")
    print("1..%d" % n_test)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
