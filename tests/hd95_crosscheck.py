#!/usr/bin/python3
"""Golden test of the per-organ comparison (model/completion/organ-metrics.c) against an
independent computation (TAP).

On real label maps (../shared/real: s0011, 1.5 mm isotropic, and amos0013, 0.78 x 0.78 x
5 mm) a "completed" map is made from the reference by shifting some organs, removing one
and growing another; `anatomy eval --completed C --reference R --input I` writes its JSON
and CSV, and each organ's figures are recomputed here with nibabel and scipy:

  - volumes: voxel counts (nibabel) x |det(affine[:3, :3])| / 1000 mL; the volume
    difference completed - reference in mL and in % of the reference;
  - HD95: an organ's surface is its voxels with a face neighbour (6-neighbourhood) of
    another label or outside the grid (scipy.ndimage.binary_erosion with border 0); the
    distance of every surface voxel of one map to the nearest surface voxel of the other
    comes from scipy.ndimage.distance_transform_edt with sampling = the voxel sizes (mm);
    HD95 = the larger of the two directed nearest-rank 95th percentiles (the
    ceil(0.95 n)-th smallest of n), as surface-distance.h defines it.
The files must be axis-aligned (the EDT's sampling is then the world distance).
Skips (TAP) when ../shared/real is not there.
"""
import csv
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

from taptest import finish, ok


def surface(mask):
    from scipy import ndimage
    inner = ndimage.binary_erosion(mask, structure=ndimage.generate_binary_structure(3, 1), border_value=0)
    return mask & ~inner


def p95(d):
    d = np.sort(d)
    return float(d[max(1, math.ceil(0.95 * len(d))) - 1])


def hd95(a, b, spacing):
    """HD95 in mm between the boolean masks a and b (NAN when either is empty)."""
    from scipy import ndimage
    if not a.any() or not b.any():
        return float("nan")
    sa, sb = surface(a), surface(b)
    # crop to the box of both surfaces: every nearest point lies inside it
    idx = np.argwhere(sa | sb)
    lo, hi = idx.min(0), idx.max(0) + 1
    box = tuple(slice(l, h) for l, h in zip(lo, hi))
    sa, sb = sa[box], sb[box]
    da = ndimage.distance_transform_edt(~sa, sampling=spacing)
    db = ndimage.distance_transform_edt(~sb, sampling=spacing)
    return max(p95(db[sa]), p95(da[sb]))


def shift(mask, d):
    """mask moved by d voxels (what leaves the grid is lost)."""
    out = np.zeros_like(mask)
    src = tuple(slice(max(0, -s), mask.shape[k] - max(0, s)) for k, s in enumerate(d))
    dst = tuple(slice(max(0, s), mask.shape[k] - max(0, -s)) for k, s in enumerate(d))
    out[dst] = mask[src]
    return out


def make_case(nib, path, tmp, stem, edits):
    """Reference, completed and input maps of @path; @edits: (label, kind, arg)."""
    from scipy import ndimage
    img = nib.load(path)
    ref = np.asarray(img.dataobj).astype(np.uint8)
    comp = ref.copy()
    inp = ref.copy()
    for label, kind, arg in edits:
        m = ref == label
        inp[m] = 0  # every edited organ is missing from the input
        if kind == "shift":
            comp[m] = 0
            comp[shift(m, arg)] = label
        elif kind == "remove":
            comp[m] = 0
        elif kind == "grow":  # into background only
            grown = ndimage.binary_dilation(m, iterations=arg)
            comp[grown & (comp == 0)] = label
    out = {}
    for name, data in (("reference", ref), ("completed", comp), ("input", inp)):
        p = os.path.join(tmp, "%s_%s.nii.gz" % (stem, name))
        nib.save(nib.Nifti1Image(data, img.affine, img.header), p)
        out[name] = p
    return out, img.affine, ref, comp, inp


def main():
    try:
        import nibabel as nib
        import scipy.ndimage  # noqa: F401
    except ImportError as e:
        print("1..0 # SKIP nibabel or scipy missing (%s)" % e)
        return 0
    anatomy = os.environ.get("ANATOMY")
    root = os.environ.get("AR_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), ".."))
    real = os.path.normpath(os.path.join(root, "..", "shared", "real"))
    if not os.path.isdir(real):
        real = "/work/shared/real"
    cases = [
        ("s0011_12class.nii.gz", [(9, "shift", (4, -3, 2)), (3, "remove", None), (4, "grow", 2),
                                  (10, "shift", (0, 0, -6))]),
        ("amos0013_12class.nii.gz", [(8, "shift", (5, 0, 2)), (5, "remove", None), (9, "shift", (0, -7, 1))]),
    ]
    if not anatomy or not all(os.path.exists(os.path.join(real, c[0])) for c in cases):
        print("1..0 # SKIP the anatomy tool or ../shared/real is missing")
        return 0
    print("1..%d" % (5 * len(cases) + 1))
    tmp = tempfile.mkdtemp(prefix="hd95-")
    for fname, edits in cases:
        stem = fname.split("_")[0]
        files, affine, ref, comp, inp = make_case(nib, os.path.join(real, fname), tmp, stem, edits)
        lin = affine[:3, :3]
        axis_aligned = np.count_nonzero(np.abs(lin) > 1e-6 * np.abs(lin).max()) == 3
        spacing = np.sqrt((lin ** 2).sum(0))
        ml_per_voxel = abs(np.linalg.det(lin)) / 1000.0
        js, cs = os.path.join(tmp, stem + ".json"), os.path.join(tmp, stem + ".csv")
        r = subprocess.run([anatomy, "eval", "--completed", files["completed"], "--reference", files["reference"],
                            "--input", files["input"], "--json", js, "--csv", cs],
                           capture_output=True, text=True, timeout=600)
        ok(r.returncode == 0 and os.path.exists(js) and os.path.exists(cs) and axis_aligned,
           "%s: anatomy eval --completed writes JSON and CSV (voxels %s mm)" % (stem, np.round(spacing, 3)),
           r.stdout[-3000:] + r.stderr[-2000:])
        if r.returncode != 0 or not os.path.exists(js):
            for _ in range(4):
                ok(False, "%s: no output" % stem)
            continue
        doc = json.load(open(js))
        rows = {o["label"]: o for o in doc["organs"]}
        labels = sorted((set(np.unique(ref).tolist()) | set(np.unique(comp).tolist())) - {0})
        bad_vol, bad_hd, lines, max_diff = [], [], [], 0.0
        for l in labels:
            a, b = comp == l, ref == l
            o = rows.get(l)
            if o is None:
                bad_vol.append("no row for label %d" % l)
                continue
            ml_r, ml_c = np.count_nonzero(b) * ml_per_voxel, np.count_nonzero(a) * ml_per_voxel
            diff = ml_c - ml_r
            pct = 100.0 * diff / ml_r if ml_r > 0 else None
            if o["reference_voxels"] != int(np.count_nonzero(b)) or o["completed_voxels"] != int(np.count_nonzero(a)) \
                    or abs(o["reference_ml"] - ml_r) > 1e-6 * max(1, ml_r) \
                    or abs(o["volume_diff_ml"] - diff) > 1e-6 * max(1, abs(ml_r)) \
                    or (pct is None) != (o["volume_diff_percent"] is None) \
                    or (pct is not None and abs(o["volume_diff_percent"] - pct) > 1e-6 * max(1, abs(pct))):
                bad_vol.append("label %d: %s; nibabel %.3f -> %.3f mL (%.3f, %s %%)" % (l, o, ml_r, ml_c, diff, pct))
            want = hd95(a, b, spacing)
            got = o["hd95_mm"]
            lines.append("label %2d %-20s HD95 C %s, scipy %.4f mm; dV %.2f mL (%s %%)"
                         % (l, o["name"], got, want, diff, "-" if pct is None else "%.2f" % pct))
            if got is not None and not math.isnan(want):
                max_diff = max(max_diff, abs(got - want))
            if (got is None) != math.isnan(want) or (got is not None and abs(got - want) > 2e-3):
                bad_hd.append("label %d: C %s, scipy %.4f" % (l, got, want))
        edited = {e[0] for e in edits}
        ok(not bad_vol, "%s: volumes and volume differences match nibabel's voxel counts" % stem, "\n".join(bad_vol))
        ok(not bad_hd and any(rows[l]["hd95_mm"] and rows[l]["hd95_mm"] > 1 for l in edited if l in rows),
           "%s: HD95 (mm) matches scipy's distance transform on surface voxels, anisotropic spacing included" % stem,
           "\n".join(bad_hd + lines + ["max |C - scipy| = %.2g mm" % max_diff]))
        order = [o["status"] for o in doc["organs"]]
        missing = [o["label"] for o in doc["organs"] if o["status"] == "missing"]
        same = [l for l in labels if np.array_equal(ref == l, comp == l)]
        ok(order == sorted(order, key=lambda s: s != "missing") and set(missing) == edited
           and all(rows[l]["hd95_mm"] == 0 and rows[l]["dice"] == 1 for l in same)
           and all(rows[l]["name"] == n for l, n in ((8, "liver"), (9, "kidney")) if l in rows),
           "%s: organs missing from the input come first, by name; unchanged organs have HD95 0 and Dice 1" % stem,
           str([(o["label"], o["status"]) for o in doc["organs"]]))
        with open(cs, newline="") as f:
            table = list(csv.reader(f))
        head, body = table[0], table[1:]
        good = head[:3] == ["label", "organ", "status"] and len(body) == len(doc["organs"])
        for row, o in zip(body, doc["organs"]):
            good = good and int(row[0]) == o["label"] and row[2] == o["status"] \
                and (row[head.index("hd95_mm")] == "" if o["hd95_mm"] is None
                     else abs(float(row[head.index("hd95_mm")]) - o["hd95_mm"]) < 0.006) \
                and abs(float(row[head.index("volume_diff_ml")]) - o["volume_diff_ml"]) < 6e-4
        ok(good, "%s: the CSV has the JSON's rows in the same order" % stem, "\n".join(",".join(r) for r in table))
    # never replaced unasked
    r = subprocess.run([anatomy, "eval", "--completed", os.path.join(tmp, "s0011_completed.nii.gz"),
                        "--reference", os.path.join(tmp, "s0011_reference.nii.gz"),
                        "--csv", os.path.join(tmp, "s0011.csv")], capture_output=True, text=True, timeout=600)
    ok(r.returncode != 0 and "exists" in (r.stdout + r.stderr), "an existing CSV is not replaced without --force",
       r.stderr[-1000:])
    return finish(tmp)


if __name__ == "__main__":
    sys.exit(main())
