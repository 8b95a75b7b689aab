#!/usr/bin/python3
"""The phantom population measured against real label maps (issue 17, docs/phantom.md).

Usage:
  phantom_realism.py --phantoms DIR [--real DIR] [--json OUT.json] [--markdown OUT.md]
                     [--before BEFORE.json] [--real-from EARLIER.json]

DIR (--phantoms) holds phantom label maps (*.nii.gz, e.g. the complete/ folder that
`anatomy phantom` writes); --real (default /work/shared/real) holds the real patients'
*_12class.nii.gz files.  Every volume is brought to RAS by axis flips and permutations from
its affine, so all positions are world millimetres: x towards the patient's right, y
anterior, z superior.  With --before (the JSON of an earlier run) the tables show that run's
phantom column beside this one's ("before" / "after").

What is measured, per subject:
  * organs (lungs and kidneys per side, split at the spine's centre line slice by slice):
    volume (mL), extents LR / AP / SI (mm, voxel centres' range plus one voxel), shape
    (principal-axis standard deviations s1 >= s2 >= s3: s2/s1, s3/s1, and the angle of the
    long axis from the body's SI axis), centroid relative to the spine (LR and AP: the
    organ's centroid minus the spine's centroid over the same slices, each slice weighted by
    the organ's voxels in it), and superior-inferior levels (centroid, top and bottom)
    relative to the liver's top (the right diaphragm dome);
  * relations: liver top - lung bottom (the lung's lowest point, its posterior recess),
    heart bottom - liver top, right - left kidney centroid level, lung top - liver top;
  * slabs: at the kidneys' level (20 mm around the mean of the two kidney centroids) the
    aorta's equivalent diameter and its position against the spine, the spine's cross
    section and width / depth, the autochthon muscles' cross section per side and their
    position; 20 mm below the liver's top and 60 mm above it (lower and middle thorax) the
    same with the descending aorta, and the rib cage's outer width, depth, back and front.
Connected pieces (26-connected) holding less than 2 % of an organ's voxels are dropped
first (islands of automatic segmentations).  Real scans are partial fields of view: an organ
with a voxel within 3 mm of a face of the grid is *truncated*; truncated organs are left out
of the volume, extent, shape and centroid statistics, an organ's top (bottom) only counts
when it does not reach the grid's superior (inferior) face, and a slab only counts when it
lies inside the grid with every structure it measures present in all its slices.

Run by hand (a few minutes; not part of the test suite), e.g.
  ./build/app/anatomy phantom --out /tmp/phr --subjects 40 --partials 0 --seed 0
  /usr/bin/python3 tests/phantom_realism.py --phantoms /tmp/phr/complete --json /tmp/phr.json
"""
import argparse
import glob
import json
import math
import os
import sys

import nibabel as nib
import numpy as np
from scipy import ndimage

LUNG, HEART, SPLEEN, STOMACH, PANCREAS, SPINE, RIBS, LIVER, KIDNEY, AORTA, AUTOCHTHON, PA = range(1, 13)
NAMES = {
    LUNG: "lung", HEART: "heart", SPLEEN: "spleen", STOMACH: "stomach", PANCREAS: "pancreas",
    SPINE: "spine", RIBS: "rib cage", LIVER: "liver", KIDNEY: "kidney", AORTA: "aorta",
    AUTOCHTHON: "autochthon", PA: "pulmonary artery",
}
# the organs measured as wholes: (name, label, side) with side -1 left, +1 right, 0 both
UNITS = [
    ("lung L", LUNG, -1), ("lung R", LUNG, +1), ("heart", HEART, 0), ("spleen", SPLEEN, 0),
    ("stomach", STOMACH, 0), ("pancreas", PANCREAS, 0), ("liver", LIVER, 0),
    ("kidney L", KIDNEY, -1), ("kidney R", KIDNEY, +1), ("pulmonary artery", PA, 0),
]
EDGE_MM = 3.0
ISLAND_FRACTION = 0.02
SLAB_MM = 20.0


def load_ras(path):
    """(data as int16 in R, A, S axis order, voxel-to-world affine of that array)."""
    img = nib.load(path)
    img = nib.as_closest_canonical(img)
    data = np.asarray(img.dataobj).astype(np.int16)
    return data, img.affine


def clean(mask):
    """@mask without 26-connected pieces holding less than ISLAND_FRACTION of its voxels."""
    lab, n = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
    if n <= 1:
        return mask
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    keep = sizes >= ISLAND_FRACTION * sizes.sum()
    return keep[lab]


class Subject:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path).split(".")[0].replace("_12class", "").replace("_full", "")
        data, self.A = load_ras(path)
        self.shape = np.array(data.shape)
        self.sp = np.sqrt((self.A[:3, :3] ** 2).sum(axis=0))
        self.voxel_ml = abs(np.linalg.det(self.A[:3, :3])) / 1000.0
        self.edge = np.maximum(1, np.ceil(EDGE_MM / self.sp - 1e-6)).astype(int)
        # world z of the slices through the grid's centre column: z bins of one slice each
        c = (self.shape - 1) / 2.0
        self.slice_z = self.A[2, 0] * c[0] + self.A[2, 1] * c[1] + self.A[2, 2] * np.arange(self.shape[2]) + self.A[2, 3]
        self.vox, self.w = {}, {}
        for lbl in range(1, 13):
            m = data == lbl
            if m.any():
                self.vox[lbl] = np.argwhere(clean(m))
                self.w[lbl] = self.world(self.vox[lbl])
        # spine centre (x, y) per z bin
        nb = self.shape[2]
        self.spine_n = np.zeros(nb)
        self.spine_x = np.full(nb, np.nan)
        self.spine_y = np.full(nb, np.nan)
        if SPINE in self.w:
            w = self.w[SPINE]
            b = self.zbin(w[:, 2])
            self.spine_n = np.bincount(b, minlength=nb).astype(float)
            with np.errstate(invalid="ignore", divide="ignore"):
                self.spine_x = np.bincount(b, w[:, 0], nb) / self.spine_n
                self.spine_y = np.bincount(b, w[:, 1], nb) / self.spine_n
            self.spine_mid = float(w[:, 0].mean())
        # the measured organs (index, world) with paired ones split at the spine, bin by bin
        self.units = {}
        for name, lbl, side in UNITS:
            if lbl not in self.vox:
                continue
            idx, w = self.vox[lbl], self.w[lbl]
            if side != 0:
                if SPINE not in self.w:
                    continue
                mid = self.spine_x[self.zbin(w[:, 2])]
                mid = np.where(np.isnan(mid), self.spine_mid, mid)
                keep = (w[:, 0] > mid) == (side > 0)
                idx, w = idx[keep], w[keep]
                if len(idx) == 0:
                    continue
            self.units[name] = (idx, w)

    def world(self, idx):
        return idx @ self.A[:3, :3].T + self.A[:3, 3]

    def zbin(self, z):
        """Index of the slice (through the centre column) nearest to world z."""
        k = np.rint((z - self.slice_z[0]) / (self.slice_z[1] - self.slice_z[0])).astype(int)
        return np.clip(k, 0, self.shape[2] - 1)

    def touches(self, idx):
        """(lo, hi) booleans per axis: the voxels reach the grid's low / high face."""
        lo = idx.min(axis=0) < self.edge
        hi = idx.max(axis=0) > self.shape - 1 - self.edge
        return lo, hi

    def spine_ref(self, w):
        """Spine centre (x, y) at the levels of the points @w, weighted by the points per level."""
        b = self.zbin(w[:, 2])
        ok = self.spine_n[b] > 0
        if ok.sum() < 0.5 * len(b):
            return None
        return float(self.spine_x[b[ok]].mean()), float(self.spine_y[b[ok]].mean())

    def liver_top(self):
        if LIVER not in self.vox:
            return None
        lo, hi = self.touches(self.vox[LIVER])
        if hi[2]:
            return None
        return float(self.w[LIVER][:, 2].max())

    def slab(self, z0, z1, lbl):
        """World points of @lbl with z in [z0, z1], or None unless @lbl runs on beyond both ends of
        the slab and its points in the slab keep off the faces of the grid."""
        if lbl not in self.w:
            return None
        w, idx = self.w[lbl], self.vox[lbl]
        if not (w[:, 2].min() < z0 and w[:, 2].max() > z1):
            return None
        inside = (w[:, 2] >= z0) & (w[:, 2] <= z1)
        lo, hi = self.touches(idx[inside])
        if lo.any() or hi.any():
            return None
        return w[inside]

    def slab_mm(self, z0, z1):
        """Thickness of the slab: its slices times the slice distance."""
        return float(((self.slice_z >= z0) & (self.slice_z <= z1)).sum()) * abs(self.slice_z[1] - self.slice_z[0])


def measure(s):
    """Every measurement of subject @s: {measure name: value}."""
    out = {}
    top = s.liver_top()
    for name, (idx, w) in s.units.items():
        lo, hi = s.touches(idx)
        if not hi[2] and top is not None:
            out[f"SI top - liver top mm/{name}"] = float(w[:, 2].max()) - top
        if not lo[2] and top is not None:
            out[f"SI bottom - liver top mm/{name}"] = float(w[:, 2].min()) - top
        if lo.any() or hi.any():
            continue
        c = w.mean(axis=0)
        out[f"volume mL/{name}"] = len(idx) * s.voxel_ml
        ext = w.max(axis=0) - w.min(axis=0) + s.sp
        for a, ax in enumerate(("LR", "AP", "SI")):
            out[f"extent {ax} mm/{name}"] = float(ext[a])
        ev, evec = np.linalg.eigh(np.cov((w - c).T))
        sd = np.sqrt(np.maximum(ev[::-1], 0))
        out[f"shape s2:s1/{name}"] = float(sd[1] / sd[0])
        out[f"shape s3:s1/{name}"] = float(sd[2] / sd[0])
        out[f"long axis from SI deg/{name}"] = float(math.degrees(math.acos(min(1.0, abs(evec[2, -1])))))
        ref = s.spine_ref(w)
        if ref is not None:
            out[f"centroid LR - spine mm/{name}"] = float(c[0] - ref[0])
            out[f"centroid AP - spine mm/{name}"] = float(c[1] - ref[1])
        if top is not None:
            out[f"centroid SI - liver top mm/{name}"] = float(c[2]) - top

    # relations
    if LUNG in s.vox and top is not None:
        lo, hi = s.touches(s.vox[LUNG])
        z = s.w[LUNG][:, 2]
        if not lo[2]:
            out["relation mm/liver top - lung bottom"] = top - float(z.min())
        if not hi[2]:
            out["relation mm/lung top - liver top"] = float(z.max()) - top
    if "heart" in s.units and top is not None:
        idx, w = s.units["heart"]
        if not s.touches(idx)[0][2]:
            out["relation mm/heart bottom - liver top"] = float(w[:, 2].min()) - top
    kc = {}
    for side in ("kidney L", "kidney R"):
        if side in s.units:
            idx, w = s.units[side]
            lo, hi = s.touches(idx)
            if not (lo.any() or hi.any()):
                kc[side] = w.mean(axis=0)
    if len(kc) == 2:
        out["relation mm/kidney R - kidney L centroid SI"] = float(kc["kidney R"][2] - kc["kidney L"][2])
        out["relation mm/kidney L - R centroid distance LR"] = float(kc["kidney R"][0] - kc["kidney L"][0])

    # slabs: at the kidneys' level, in the lower and the middle thorax
    if len(kc) == 2:
        zk = 0.5 * (kc["kidney L"][2] + kc["kidney R"][2])
        slab_measures(s, out, "at kidneys", zk - SLAB_MM / 2, zk + SLAB_MM / 2, lumbar=True)
    if top is not None:
        for dz in (60.0, -20.0):
            z = top + dz
            slab_measures(s, out, f"liver top {dz:+.0f} mm", z - SLAB_MM / 2, z + SLAB_MM / 2, lumbar=False)
    return out


def slab_measures(s, out, where, z0, z1, lumbar):
    thick = s.slab_mm(z0, z1)
    spine = s.slab(z0, z1, SPINE)
    if spine is None or thick <= 0:
        return
    sx, sy = spine[:, 0].mean(), spine[:, 1].mean()
    vmm = s.voxel_ml * 1000.0
    key = f"slab {where}"
    out[f"{key}/spine area cm2"] = len(spine) * vmm / thick / 100.0
    out[f"{key}/spine width mm"] = float(np.ptp(spine[:, 0]) + s.sp[0])
    out[f"{key}/spine depth mm"] = float(np.ptp(spine[:, 1]) + s.sp[1])
    aorta = s.slab(z0, z1, AORTA)
    if aorta is not None:
        if not lumbar:
            # the descending aorta only: split the points into pieces more than 10 mm apart (the arch may add
            # the ascending part) and keep the piece nearest the spine
            g = np.floor((aorta[:, :2] - aorta[:, :2].min(axis=0)) / 5.0).astype(int)
            grid = np.zeros(g.max(axis=0) + 1, bool)
            grid[g[:, 0], g[:, 1]] = True
            lab, n = ndimage.label(ndimage.binary_dilation(grid, iterations=1))
            if n > 1:
                piece = lab[g[:, 0], g[:, 1]]
                pieces = [aorta[piece == c] for c in range(1, n + 1) if (piece == c).any()]
                aorta = min(pieces, key=lambda q: math.hypot(q[:, 0].mean() - sx, q[:, 1].mean() - sy))
        area = len(aorta) * vmm / thick
        out[f"{key}/aorta diameter mm"] = 2.0 * math.sqrt(area / math.pi)
        out[f"{key}/aorta LR - spine mm"] = float(aorta[:, 0].mean() - sx)
        out[f"{key}/aorta AP - spine mm"] = float(aorta[:, 1].mean() - sy)
    mus = s.slab(z0, z1, AUTOCHTHON)
    if mus is not None:
        x = mus[:, 0]
        out[f"{key}/autochthon area per side cm2"] = len(mus) * vmm / thick / 2 / 100.0
        out[f"{key}/autochthon AP - spine mm"] = float(mus[:, 1].mean() - sy)
        out[f"{key}/autochthon L-R centre distance mm"] = float(x[x > sx].mean() - x[x <= sx].mean())
    ribs = s.slab(z0, z1, RIBS) if not lumbar else None
    if ribs is not None:
        out[f"{key}/rib cage width mm"] = float(np.ptp(ribs[:, 0]) + s.sp[0])
        out[f"{key}/rib cage depth mm"] = float(np.ptp(ribs[:, 1]) + s.sp[1])
        out[f"{key}/rib cage back - spine mm"] = float(ribs[:, 1].min() - sy)
        out[f"{key}/rib cage front - spine mm"] = float(ribs[:, 1].max() - sy)


# TotalSegmentator v2 ids of the vertebrae: 27 L5 ... 31 L1, 32 T12 ... 43 T1, 44 C7
V2_FIRST, V2_LAST = 27, 44
LEVEL_NAMES = ["C7"] + [f"T{n}" for n in range(1, 13)] + [f"L{n}" for n in range(1, 6)]


def level_name(f):
    if f is None or not math.isfinite(f):
        return "–"
    i = int(math.floor(f))
    return f"{LEVEL_NAMES[i]}+{f - i:.1f}"


def real_levels(real_dir):
    """Vertebral levels of the real cases that have TotalSegmentator v2 vertebrae: markdown."""
    rows = []
    pairs = {}
    for path in sorted(glob.glob(os.path.join(real_dir, "*_totalseg_v2.nii.gz"))):
        name = os.path.basename(path).split("_")[0]
        twelve = os.path.join(real_dir, f"{name}_12class.nii.gz")
        if not os.path.exists(twelve):
            continue
        d2, A = load_ras(path)
        s = Subject(twelve)
        # vertebra centroids (z) of the complete vertebrae; level index 0 = C7, 1 = T1 ... 17 = L5
        cz = {}
        for vid in range(V2_FIRST, V2_LAST + 1):
            idx = np.argwhere(d2 == vid)
            if len(idx) == 0:
                continue
            lo, hi = s.touches(idx)
            if lo[2] or hi[2]:
                continue
            cz[V2_LAST - vid] = float(s.world(idx)[:, 2].mean())
        for f in cz:
            if f + 1 in cz:
                pairs.setdefault(f, []).append(cz[f] - cz[f + 1])
        fs = sorted(cz)
        zs = np.array([cz[f] for f in fs])

        def level(z):
            if len(fs) < 2 or z is None or z > zs[0] or z < zs[-1]:
                return None
            return float(np.interp(-z, -zs, np.array(fs, float)))

        def unit_z(unit, how):
            if unit not in s.units:
                return None
            idx, w = s.units[unit]
            lo, hi = s.touches(idx)
            w = w[:, 2]
            if how == "top":
                return None if hi[2] else float(w.max())
            if how == "bottom":
                return None if lo[2] else float(w.min())
            return None if (lo.any() or hi.any()) else float(w.mean())

        lung_top = lung_bottom = None
        if LUNG in s.vox:
            lo, hi = s.touches(s.vox[LUNG])
            lung_bottom = None if lo[2] else float(s.w[LUNG][:, 2].min())
            lung_top = None if hi[2] else float(s.w[LUNG][:, 2].max())
        items = [lung_top, s.liver_top(), lung_bottom, unit_z("heart", "centroid"), unit_z("spleen", "centroid"),
                 unit_z("pancreas", "centroid"), unit_z("kidney L", "centroid"), unit_z("kidney R", "centroid"),
                 unit_z("liver", "bottom")]
        rows.append(f"| {name} | {LEVEL_NAMES[fs[0]] if fs else '–'}–{LEVEL_NAMES[fs[-1]] if fs else '–'} | "
                    + " | ".join(level_name(level(z)) for z in items) + " |")
    out = ["| case | complete vertebrae | lung top | liver top | lung bottom | heart | spleen | pancreas "
           "| kidney L | kidney R | liver bottom |", "|" + " --- |" * 11] + rows
    out.append("\nCentre-to-centre distance of neighbouring vertebrae (mm), median over the cases [n]:\n")
    out.append("| " + " | ".join(f"{LEVEL_NAMES[f]}–{LEVEL_NAMES[f + 1]}" for f in sorted(pairs)) + " |")
    out.append("|" + " --- |" * len(pairs))
    out.append("| " + " | ".join(f"{np.median(pairs[f]):.0f} [{len(pairs[f])}]" for f in sorted(pairs)) + " |")
    return "\n".join(out) + "\n"


def collect(paths):
    res = {}
    for p in paths:
        s = Subject(p)
        res[s.name] = measure(s)
        print(f"  {s.name}: {len(res[s.name])} measurements", file=sys.stderr)
    return res


def stats(values):
    v = np.array(values, float)
    if len(v) == 0:
        return None
    return {"n": len(v), "mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "median": float(np.median(v)), "p5": float(np.percentile(v, 5)), "p95": float(np.percentile(v, 95)),
            "min": float(v.min()), "max": float(v.max())}


def fmt(x, digits=None):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    a = abs(x)
    if digits is None:
        digits = 0 if a >= 100 else 1 if a >= 1 else 2
    return f"{x:.{digits}f}"


def verdict(real, ph):
    """'low' / 'high' when the phantom median lies outside the real values' range (n >= 2)."""
    if real is None or ph is None or real["n"] < 2:
        return ""
    if ph["median"] < real["min"]:
        return "**low**"
    if ph["median"] > real["max"]:
        return "**high**"
    return ""


def tables(real, phantom, before=None):
    keys = []
    for r in list(phantom.values()) + list(real.values()):
        for k in r:
            if k not in keys:
                keys.append(k)
    groups = {}
    for k in keys:
        g, item = k.split("/", 1)
        groups.setdefault(g, []).append(item)
    unit_order = [u[0] for u in UNITS]
    for g in groups:
        groups[g].sort(key=lambda item: unit_order.index(item) if item in unit_order else len(unit_order))
    group_order = ["volume mL", "extent LR mm", "extent AP mm", "extent SI mm", "shape s2:s1", "shape s3:s1",
                   "long axis from SI deg", "centroid LR - spine mm", "centroid AP - spine mm",
                   "centroid SI - liver top mm", "SI top - liver top mm", "SI bottom - liver top mm", "relation mm",
                   "slab at kidneys", "slab liver top -20 mm", "slab liver top +60 mm"]
    lines = []
    for g in sorted(groups, key=lambda g: group_order.index(g) if g in group_order else len(group_order)):
        items = groups[g]
        lines.append(f"\n**{g}**\n")
        head = "| | real (values, sorted) | real median | "
        head += "phantom before: mean ± SD [5–95 %] | " if before else ""
        head += "phantom" + (" after" if before else "") + ": mean ± SD [5–95 %] | |"
        lines.append(head)
        lines.append("|" + " --- |" * (5 + (1 if before else 0)))
        for item in items:
            k = f"{g}/{item}"
            rv = sorted(v[k] for v in real.values() if k in v)
            rs, ps = stats(rv), stats([v[k] for v in phantom.values() if k in v])
            row = f"| {item} | {', '.join(fmt(x) for x in rv) or '–'} | {fmt(rs['median']) if rs else '–'} | "
            if before:
                bs = before.get(k)
                row += (f"{fmt(bs['mean'])} ± {fmt(bs['sd'])} [{fmt(bs['p5'])}–{fmt(bs['p95'])}] {verdict(rs, bs)} | "
                        if bs else "– | ")
            row += (f"{fmt(ps['mean'])} ± {fmt(ps['sd'])} [{fmt(ps['p5'])}–{fmt(ps['p95'])}]"
                    + (f" (n={ps['n']})" if ps and ps['n'] < len(phantom) else "") if ps else "–")
            row += f" | {verdict(rs, ps)} |"
            lines.append(row)
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phantoms", required=True, help="folder of phantom label maps (*.nii.gz)")
    ap.add_argument("--real", default="/work/shared/real", help="folder of real *_12class.nii.gz files")
    ap.add_argument("--json", help="write every value and the phantom statistics here")
    ap.add_argument("--markdown", help="write the tables here (default: standard output)")
    ap.add_argument("--before", help="JSON of an earlier run: its phantom column is shown as 'before'")
    ap.add_argument("--real-from", help="JSON of an earlier run: reuse its real measurements (faster)")
    args = ap.parse_args()

    real_paths = sorted(glob.glob(os.path.join(args.real, "*_12class.nii.gz")))
    ph_paths = sorted(glob.glob(os.path.join(args.phantoms, "*.nii.gz")))
    if not real_paths or not ph_paths:
        sys.exit(f"no volumes: {len(real_paths)} real in {args.real}, {len(ph_paths)} phantoms in {args.phantoms}")
    print(f"{len(real_paths)} real, {len(ph_paths)} phantoms", file=sys.stderr)
    if args.real_from:
        with open(args.real_from, encoding="utf-8") as f:
            cached = json.load(f)
        real, levels_md = cached["real"], cached["real_levels"]
    else:
        real = collect(real_paths)
        levels_md = real_levels(args.real)
    phantom = collect(ph_paths)
    keys = sorted({k for v in phantom.values() for k in v})
    ph_stats = {k: stats([v[k] for v in phantom.values() if k in v]) for k in keys}
    before = None
    if args.before:
        with open(args.before, encoding="utf-8") as f:
            before = json.load(f)["phantom_stats"]
    md = tables(real, phantom, before)
    md += ("\n**real vertebral levels** (from the TotalSegmentator v2 vertebrae; T9+0.5 = half-way from the T9 "
           "to the T10 centroid; centroids of untruncated organs, tops and bottoms where not cut)\n\n")
    md += levels_md
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(md)
    else:
        print(md)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"real": real, "real_levels": levels_md, "phantom": phantom, "phantom_stats": ph_stats}, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
