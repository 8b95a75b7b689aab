#!/usr/bin/python3
"""Writes the held-out patients stored and sampled otherwise (docs/results.md, "The same two
patients stored and sampled otherwise"): nearest resampling in world space of
REAL/s0011_12class.nii.gz and s0006_12class.nii.gz to 0.8 x 0.8 x 5 mm LPS, 2.137 x 2.137 x 8 mm
LPI (head first), the same padded with 700 mm of empty slices below and 350 mm above, the map
as stored padded so, and the map without autochthon muscles (and rib cage).

usage: real_variants.py REAL OUT"""
import sys

import nibabel as nib
import numpy as np
from scipy.ndimage import map_coordinates

R, OUT = sys.argv[1], sys.argv[2]


def resample(d, A, spacing, signs, pad_lo=0.0, pad_hi=0.0):
    """@d (affine @A, axis-aligned) on a grid of @spacing mm whose axes run along world
    x, y, z with @signs, covering the same world box, widened along z by @pad_lo / @pad_hi mm."""
    n = np.array(d.shape)
    corners = np.array([[i, j, k, 1] for i in (0, n[0] - 1) for j in (0, n[1] - 1) for k in (0, n[2] - 1)]).T
    w = (A @ corners)[:3]
    lo, hi = w.min(1), w.max(1)
    lo[2] -= pad_lo
    hi[2] += pad_hi
    sp, sg = np.array(spacing, float), np.array(signs, float)
    shape = np.floor((hi - lo) / sp).astype(int) + 1
    B = np.eye(4)
    B[:3, :3] = np.diag(sg * sp)
    B[:3, 3] = np.where(sg > 0, lo, hi)
    idx = np.indices(shape).reshape(3, -1)
    Ainv = np.linalg.inv(A)
    src = Ainv[:3, :3] @ (B[:3, :3] @ idx + B[:3, 3:4]) + Ainv[:3, 3:4]
    out = map_coordinates(d, src, order=0, mode="constant", cval=0).reshape(shape)
    return out.astype(np.uint8), B


for s in ("s0011", "s0006"):
    im = nib.load(f"{R}/{s}_12class.nii.gz")
    d, A = np.asanyarray(im.dataobj).astype(np.uint8), im.affine
    noauto = np.where(d == 11, 0, d).astype(np.uint8)                 # autochthon muscles
    v = {"lps5": resample(d, A, (0.8, 0.8, 5.0), (-1, -1, 1)),
         "lpi8": resample(d, A, (2.137, 2.137, 8.0), (-1, -1, -1)),
         "lpi8pad": resample(d, A, (2.137, 2.137, 8.0), (-1, -1, -1), 700, 350),
         "pad": resample(d, A, (1.5, 1.5, 1.5), (1, 1, 1), 700, 350),
         "noauto": (noauto, A),
         "noautorib": (np.where(noauto == 7, 0, noauto).astype(np.uint8), A)}  # and rib cage
    for k, (x, B) in v.items():
        nib.save(nib.Nifti1Image(x, B), f"{OUT}/{s}_{k}.nii.gz")
        print(s, k, x.shape)
