#!/usr/bin/python3
"""End-to-end check of `anatomy complete` against the same completion done in PyTorch.

A seeded random-weight model (anatomy init-model) completes an anisotropic, oblique
label map written with nibabel; this script does the same steps independently in numpy
and PyTorch (tests/golden/anatomy_nets.py): the input placed in the network's cube by its
affine and its organs (model/completion/completion-frame.h: median offset of the class
centroids from the reference, majority of 3³ points per cube voxel), forward, trilinear
back at every input voxel (grid_sample), argmax over background and the selected organs,
merge (only within the labelled slab along the body axis), then scipy.ndimage.label drops the pieces of an added organ under 10 % of its
largest piece.
Speaks TAP.
"""
import os
import subprocess
import sys
import tempfile

import nibabel as nib
import numpy as np

from taptest import count, failed, ok
from scipy import ndimage
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "golden"))
import anatomy_nets as an  # noqa: E402

ANATOMY = os.environ.get("ANATOMY", "anatomy")


def run(*args, env=None):
    return subprocess.run([ANATOMY] + list(args), capture_output=True, text=True, env=env)


# Mean class centroids of the reference population (mm from the cube's centre), as in
# model/completion/completion-frame.c; row 0 unused.
REFERENCE = np.array([
    [0.0, 0.0, 0.0], [0.6, -33.8, 41.8], [-14.6, 14.2, -16.6], [-82.9, -41.3, -99.3],
    [-42.1, 12.3, -123.7], [-8.3, 1.8, -114.4], [0.4, -66.3, -29.3], [0.6, -39.2, 31.1],
    [57.8, 2.4, -94.2], [1.5, -43.6, -125.5], [-0.9, -19.4, 4.5], [0.8, -113.3, 31.4],
    [-2.0, -13.6, 42.5]])
LONG = {6, 7, 10, 11}   # spine, rib cage, aorta, autochthon: not used along the body axis


def cube_to_input(vol, affine, grid, voxel_mm):
    """The 4×4 map from cube voxel index to input voxel index."""
    present = [c for c in range(1, 13) if (vol == c).any()]
    axis = [int(np.argmax(np.abs(affine[a, :3]))) for a in range(3)]
    shift = np.zeros(3)
    for a in range(3):
        diffs = []
        for strict in (True, False):
            for c in present:
                idx = np.argwhere(vol == c)
                cut = idx[:, axis[a]].min() == 0 or idx[:, axis[a]].max() == vol.shape[axis[a]] - 1
                if strict and (cut or (a == 2 and c in LONG)):
                    continue
                centroid = affine[:3, :3] @ idx.mean(0) + affine[:3, 3]
                diffs.append(REFERENCE[c, a] - centroid[a])
            if diffs:
                break
        shift[a] = np.median(diffs)
    c2w = np.eye(4)
    for a in range(3):
        c2w[a, a] = voxel_mm
        c2w[a, 3] = -0.5 * (grid[a] - 1) * voxel_mm - shift[a]
    return np.linalg.inv(affine) @ c2w


def torch_complete(model_path, vol, affine, selected):
    cfg, model = an.load_model(model_path)
    grid = cfg["grid"]                                   # x, y, z
    M = cube_to_input(vol, affine, grid, 448.0 / grid[0])
    # majority of 3³ points spread over each cube voxel
    sub = (np.arange(3) + 0.5) / 3 - 0.5
    votes = np.zeros((13,) + tuple(grid), np.int32)
    gx, gy, gz = np.meshgrid(*[np.arange(g, dtype=float) for g in grid], indexing="ij")
    for dx in sub:
        for dy in sub:
            for dz in sub:
                pts = np.stack([gx + dx, gy + dy, gz + dz, np.ones_like(gx)], -1) @ M.T
                q = np.floor(pts[..., :3] + 0.5).astype(int)
                inside = np.all((q >= 0) & (q < np.array(vol.shape)), -1)
                lab = np.zeros(grid, np.int64)
                qi = q[inside]
                lab[inside] = vol[qi[:, 0], qi[:, 1], qi[:, 2]]
                lab[(lab < 0) | (lab >= 13)] = 0
                np.add.at(votes, (lab, gx.astype(int), gy.astype(int), gz.astype(int)), 1)
    small = votes.argmax(0)                              # ties: the lower class
    t = torch.from_numpy(small.transpose(2, 1, 0).copy()).long()   # (D, H, W) = (z, y, x)
    x = F.one_hot(t, 13).permute(3, 0, 1, 2).unsqueeze(0).float()
    # every input voxel's position in the cube
    ii, jj, kk = np.meshgrid(*[np.arange(n, dtype=float) for n in vol.shape], indexing="ij")
    q = np.stack([ii, jj, kk, np.ones_like(ii)], -1) @ np.linalg.inv(M).T
    q = q[..., :3]
    outside = np.any((q < -0.5) | (q > np.array(grid) - 0.5), -1)
    norm = np.clip(q, 0, np.array(grid) - 1) / (np.array(grid) - 1) * 2 - 1
    g = torch.from_numpy(norm.transpose(2, 1, 0, 3).copy()).float().unsqueeze(0)   # (1, z, y, x, 3)
    with torch.no_grad():
        p = model(x)
        big = F.grid_sample(p, g, mode="bilinear", padding_mode="border", align_corners=True)[0]
    big[0][torch.from_numpy(outside.transpose(2, 1, 0).copy())] = 1.0
    for c in range(1, 13):
        big[c][torch.from_numpy(outside.transpose(2, 1, 0).copy())] = 0.0
    # argmax over background and the selected organs only
    cand = [0] + list(selected)
    pred = np.array(cand)[big[cand].argmax(0).numpy()].transpose(2, 1, 0)   # back to (x, y, z)
    out = vol.copy()
    # nothing is added in the slices across the body axis (the stored axis closest to world
    # z) beyond the first and last one holding a label
    body = int(np.argmax(np.abs(affine[2, :3])))
    held = np.flatnonzero(np.moveaxis(vol, body, 0).reshape(vol.shape[body], -1).any(1))
    scanned = np.zeros(vol.shape[body], bool)
    scanned[held[0]:held[-1] + 1] = True
    scanned = scanned.reshape([-1 if a == body else 1 for a in range(3)])
    add = (vol == 0) & (pred != 0) & scanned
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
    # the probabilities of the selected organs, (x, y, z, organ)
    return out, big[list(selected)].numpy().transpose(3, 2, 1, 0)


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
        # anisotropic voxels, stored LPS-like with a small oblique tilt
        ang = 0.2
        affine = np.array([[-1.5 * np.cos(ang), 1.0 * np.sin(ang), 0, 30.0],
                           [-1.5 * np.sin(ang), -1.0 * np.cos(ang), 0, -12.0],
                           [0, 0, 2.5, 500.0], [0, 0, 0, 1]])
        img = nib.Nifti1Image(vol, affine)
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
        ref, ref_prob = torch_complete(model, vol, img.affine, [2, 8, 9])
        mismatch = int((ref != out).sum())
        ok(mismatch <= vol.size // 2000, "matches PyTorch completion (%d of %d voxels differ)" % (mismatch, vol.size))
        pimg = nib.load(probp)
        prob = np.asarray(pimg.dataobj)
        ok(prob.dtype == np.float32 and prob.shape == vol.shape + (3,) and np.allclose(pimg.affine, img.affine),
           "probabilities: float32, one volume per organ asked for, at the input's geometry")
        ok(pimg.header["descrip"].tobytes().startswith(b"probabilities of heart, liver, kidney"),
           "the header names the organs in order")
        diff = float(np.abs(prob - ref_prob).max())
        ok(diff < 1e-4, "probabilities match PyTorch's (max difference %.2g)" % diff)

        r = run("complete", inp, outp, "--model", model)
        ok(r.returncode != 0 and "exists" in r.stderr, "refuses to overwrite without --force")
        r = run("complete", inp, outp, "--model", model, "--labels", "livr", "--force")
        ok(r.returncode != 0 and "unknown organ" in r.stderr, "unknown organ named")
        env = dict(os.environ, ANATOMY_MODELS_DIR=tmp)
        r = run("complete", inp, outp, "--model", "googlenet-skip", "--force", env=env)
        ok(r.returncode != 0 and "init-model" in r.stderr and "googlenet-skip.safetensors" in r.stderr,
           "says clearly when a shipped model is missing")
    print("1..%d" % count())
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
