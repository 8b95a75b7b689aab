#!/usr/bin/python3
"""Slice montage of label maps: one row per volume, axial / coronal / sagittal panels.

Usage: phantom-montage.py OUT.png VOLUME.nii.gz [VOLUME...] [--labels TABLE.txt]
                          [--titles A,B,...] [--dpi N] [--views] [--same-slices]

Slices are chosen from the anatomy when the 12-organ labels are present
(axial through the heart, the spleen/liver dome region and the kidneys;
coronal through the kidneys and the heart; sagittal through the spine and the
right kidney), else at fixed fractions of the grid.  Display follows the
radiological convention: patient right on the image left, anterior up in
axial views, superior up otherwise.  Colours come from an ITK-SNAP label
table (--labels) or the built-in 12-organ colours.

With --views the panels are depth-shaded surface views instead of slices
(the first labelled voxel along each ray): from the front, the patient's
left, the back, and the skeleton alone from the front.
"""
import argparse
import re
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402

DEFAULT_COLOURS = {
    1: (244, 160, 160), 2: (158, 22, 36), 3: (128, 62, 150), 4: (252, 200, 168),
    5: (236, 196, 64), 6: (242, 236, 214), 7: (204, 194, 152), 8: (134, 60, 34),
    9: (204, 112, 48), 10: (236, 36, 36), 11: (196, 84, 86), 12: (54, 96, 206),
}
DEFAULT_NAMES = {
    1: "lung", 2: "heart", 3: "spleen", 4: "stomach", 5: "pancreas", 6: "spine",
    7: "rib cage", 8: "liver", 9: "kidney", 10: "aorta", 11: "autochthon",
    12: "pulmonary artery",
}


def read_itksnap(path):
    colours, names = {}, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = re.match(r'(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\S+\s+\S+\s+\S+\s+"(.*)"', line)
            if m:
                i = int(m.group(1))
                colours[i] = tuple(int(m.group(k)) for k in (2, 3, 4))
                names[i] = m.group(5)
    return colours, names


def to_ras(img):
    """Data reoriented so that axes point R, A, S (nearest axis flips/permutations only)."""
    ornt = nib.orientations.io_orientation(img.affine)
    ras = nib.orientations.axcodes2ornt(("R", "A", "S"))
    xf = nib.orientations.ornt_transform(ornt, ras)
    data = np.asarray(img.dataobj).astype(np.int32)
    data = nib.orientations.apply_orientation(data, xf)
    zooms = np.array(img.header.get_zooms()[:3])[np.argsort([int(a) for a in ornt[:, 0]])]
    return data, zooms


def centroid(data, label):
    idx = np.argwhere(data == label)
    if len(idx) == 0:
        return None
    return idx.mean(axis=0)


def pick_slices(data):
    n = np.array(data.shape)
    heart, spleen, kid, spine = (centroid(data, lbl) for lbl in (2, 3, 9, 6))
    liver = centroid(data, 8)
    ax = []
    ax.append(int(heart[2]) if heart is not None else int(0.62 * n[2]))
    upper = spleen if spleen is not None else liver
    ax.append(int(upper[2]) if upper is not None else int(0.45 * n[2]))
    ax.append(int(kid[2]) if kid is not None else int(0.3 * n[2]))
    cor = [int(kid[1]) if kid is not None else int(0.4 * n[1]),
           int(heart[1]) if heart is not None else int(0.6 * n[1])]
    sag = [int(spine[0]) if spine is not None else n[0] // 2]
    right = np.argwhere(data == 9)
    if len(right):
        mid = spine[0] if spine is not None else n[0] / 2
        r = right[right[:, 0] > mid]
        sag.append(int(r[:, 0].mean()) if len(r) else int(0.7 * n[0]))
    else:
        sag.append(int(0.7 * n[0]))
    return ax, cor, sag


def render(data, lut):
    return lut[np.clip(data, 0, len(lut) - 1)]


def surface_view(vol, axis, from_high, lut, keep=None):
    """First labelled voxel along @axis (from the high or low end), shaded by depth.
    Returns an RGB image (rows = the remaining axes in order)."""
    if keep is not None:
        vol = np.where(np.isin(vol, keep), vol, 0)
    v = np.flip(vol, axis=axis) if from_high else vol
    hit = v > 0
    first = np.argmax(hit, axis=axis)
    anyhit = hit.any(axis=axis)
    lab = np.take_along_axis(v, np.expand_dims(first, axis), axis=axis).squeeze(axis)
    depth = first / float(vol.shape[axis])
    shade = (1.0 - 0.75 * depth)[..., None]
    # a little relief from the depth gradient
    gy, gx = np.gradient(first.astype(float))
    relief = np.clip(1.0 - 0.08 * (gx + gy), 0.6, 1.2)[..., None]
    rgb = lut[lab].astype(float) * shade * relief
    rgb[~anyhit] = lut[0]
    return np.clip(rgb, 0, 255).astype(np.uint8)


def view_panels(data, zooms, lut):
    # images with superior up: transpose so rows follow k (then flip)
    front = surface_view(data, 1, True, lut)          # (i, k), from anterior
    left = surface_view(data, 0, False, lut)          # (j, k), from the left (low i)
    back = surface_view(data, 1, False, lut)          # (i, k), from posterior
    bones = surface_view(data, 1, True, lut, keep=[6, 7])
    return [
        ("front", front.transpose(1, 0, 2)[::-1, ::-1], zooms[2] / zooms[0]),
        ("left side", left.transpose(1, 0, 2)[::-1, :], zooms[2] / zooms[1]),
        ("back", back.transpose(1, 0, 2)[::-1, :], zooms[2] / zooms[0]),
        ("skeleton, front", bones.transpose(1, 0, 2)[::-1, ::-1], zooms[2] / zooms[0]),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("volumes", nargs="+")
    ap.add_argument("--labels")
    ap.add_argument("--titles")
    ap.add_argument("--dpi", type=int, default=80)
    ap.add_argument("--views", action="store_true", help="surface views instead of slices")
    ap.add_argument("--same-slices", action="store_true",
                    help="cut every volume where the first one is cut (compare versions)")
    a = ap.parse_args()

    colours, names = dict(DEFAULT_COLOURS), dict(DEFAULT_NAMES)
    if a.labels:
        c, nm = read_itksnap(a.labels)
        colours.update({k: v for k, v in c.items() if k > 0})
        names.update({k: v for k, v in nm.items() if k > 0})
    lut = np.zeros((256, 3), dtype=np.uint8)
    lut[0] = (16, 16, 20)
    for k, v in colours.items():
        if 0 < k < 256:
            lut[k] = v
    titles = a.titles.split(",") if a.titles else [None] * len(a.volumes)

    rows = len(a.volumes)
    cols = 4 if a.views else 7
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 2.2, rows * 2.35 + 0.5), squeeze=False)
    for r, path in enumerate(a.volumes):
        data, zooms = to_ras(nib.load(path))
        if a.views:
            panels = [(n, img, asp) for n, img, asp in view_panels(data, zooms, lut)]
            for c, (name, img, aspect) in enumerate(panels):
                axis = axes[r][c]
                axis.imshow(img, interpolation="nearest", aspect=aspect)
                axis.set_xticks([])
                axis.set_yticks([])
                label = name if c else "%s\n%s" % (titles[r] or path.split("/")[-1], name)
                axis.set_title(label, fontsize=7)
            continue
        if r == 0 or not a.same_slices:
            axs, cors, sags = pick_slices(data)
        panels = []
        for k in axs:
            panels.append(("axial k=%d" % k, data[:, :, k].T[::-1, ::-1], zooms[1] / zooms[0]))
        for j in cors:
            panels.append(("coronal j=%d" % j, data[:, j, :].T[::-1, ::-1], zooms[2] / zooms[0]))
        for i in sags:
            panels.append(("sagittal i=%d" % i, data[i, :, :].T[::-1, ::-1], zooms[2] / zooms[1]))
        for c, (name, sl, aspect) in enumerate(panels):
            axis = axes[r][c]
            axis.imshow(render(sl, lut), interpolation="nearest", aspect=aspect)
            axis.set_xticks([])
            axis.set_yticks([])
            label = name if c else "%s\n%s" % (titles[r] or path.split("/")[-1], name)
            axis.set_title(label, fontsize=7)
    handles = [matplotlib.patches.Patch(color=np.array(colours[k]) / 255.0, label=names[k])
               for k in sorted(colours) if 0 < k <= 12]
    fig.legend(handles=handles, loc="lower center", ncol=12 if cols == 7 else 6, fontsize=7,
               frameon=False)
    fig.tight_layout(rect=(0, 0.06 if cols == 7 else 0.1, 1, 1))
    fig.savefig(a.out, dpi=a.dpi)
    return 0


if __name__ == "__main__":
    sys.exit(main())
