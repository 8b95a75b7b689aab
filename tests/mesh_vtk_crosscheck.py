#!/usr/bin/python3
"""Cross-check `anatomy mesh` against VTK's discrete marching cubes (TAP output).

On aal.nii.gz (skipped when missing): the same set of labels, per-label surface area
and enclosed volume within 5 % of vtkDiscreteMarchingCubes (both unsmoothed), and every
export (OBJ, PLY, STL, per-label STL) loads in VTK's own readers with the expected
number of triangles.  Needs Debian's python3-vtk9, python3-nibabel and numpy.
"""
import os
import subprocess
import sys
import tempfile

AAL = "/usr/share/mricron/templates/aal.nii.gz"
ANATOMY = os.environ.get("ANATOMY", "anatomy")

from taptest import count, failed, ok  # noqa: E402

def skip_all(reason):
    print(f"1..0 # SKIP {reason}")
    sys.exit(0)


try:
    import numpy as np
    import nibabel as nib
    import vtk
    from vtk.util import numpy_support as ns
    from vtkpeer import discrete_contours, nonzero_labels, vtk_image
except ImportError as e:  # pragma: no cover
    skip_all(f"missing module: {e}")
if not os.path.exists(AAL):
    skip_all("aal.nii.gz missing (apt-get install mricron-data)")


def tri_areas_volumes(pts, tris):
    a, b, c = pts[tris[:, 0]], pts[tris[:, 1]], pts[tris[:, 2]]
    cr = np.cross(b - a, c - a)
    area = 0.5 * np.linalg.norm(cr, axis=1)
    vol = np.einsum("ij,ij->i", a, np.cross(b, c)) / 6.0
    return area, vol


def per_label(areas, vols, labels):
    out = {}
    for l in np.unique(labels):
        m = labels == l
        out[int(l)] = (float(areas[m].sum()), float(vols[m].sum()))
    return out


def vtk_reference(data, affine):
    """vtkDiscreteMarchingCubes on the label map -> {label: (area, volume)} in world mm."""
    img = vtk_image(data, np.int32)
    mc = discrete_contours(vtk.vtkDiscreteMarchingCubes, img, nonzero_labels(data))
    mc.ComputeScalarsOn()
    mc.Update()
    out = mc.GetOutput()
    pts = ns.vtk_to_numpy(out.GetPoints().GetData()).astype(np.float64)
    pts = pts @ affine[:3, :3].T + affine[:3, 3]   # voxel index -> world
    polys = ns.vtk_to_numpy(out.GetPolys().GetData()).reshape(-1, 4)[:, 1:]
    lab = ns.vtk_to_numpy(out.GetCellData().GetScalars()).astype(np.int64)
    area, vol = tri_areas_volumes(pts, polys)
    if np.linalg.det(affine[:3, :3]) < 0:
        vol = -vol
    # VTK winds triangles consistently per label; take |volume| per label
    res = per_label(area, vol, lab)
    return {l: (a, abs(v)) for l, (a, v) in res.items()}, len(polys)


def read_our_ply(path):
    """Parse our binary PLY (vertex: 6 float + 4 uchar; face: uchar 3, 3 int, int label)."""
    with open(path, "rb") as f:
        header = b""
        while not header.endswith(b"end_header\n"):
            header += f.readline()
        nv = nf = 0
        for line in header.decode().splitlines():
            if line.startswith("element vertex"):
                nv = int(line.split()[2])
            elif line.startswith("element face"):
                nf = int(line.split()[2])
        vdt = np.dtype([("p", "<f4", 3), ("n", "<f4", 3), ("c", "u1", 4)])
        fdt = np.dtype([("k", "u1"), ("i", "<i4", 3), ("label", "<i4")])
        v = np.frombuffer(f.read(nv * vdt.itemsize), dtype=vdt)
        fc = np.frombuffer(f.read(nf * fdt.itemsize), dtype=fdt)
    return v, fc


def run(args):
    r = subprocess.run([ANATOMY] + args, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def main():
    img = nib.load(AAL)
    data = np.asarray(img.dataobj).astype(np.int32)
    affine = img.affine
    ref, n_ref = vtk_reference(data, affine)

    with tempfile.TemporaryDirectory() as tmp:
        ply = os.path.join(tmp, "aal.ply")
        rc, out = run(["mesh", AAL, "--out", ply, "--smooth", "0", "--quiet"])
        ok(rc == 0, "anatomy mesh writes an unsmoothed PLY", out if rc else None)
        if rc != 0:
            return
        v, fc = read_our_ply(ply)
        pts = v["p"].astype(np.float64)
        area, vol = tri_areas_volumes(pts, fc["i"])
        ours = per_label(area, vol, fc["label"])

        ok(set(ours) == set(ref), "same set of labels as vtkDiscreteMarchingCubes",
            f"ours {len(ours)} labels, VTK {len(ref)}; only ours {sorted(set(ours) - set(ref))}, "
            f"only VTK {sorted(set(ref) - set(ours))}")
        ok(len(fc) == n_ref, "same total triangle count as VTK",
            f"ours {len(fc)}, VTK {n_ref}")
        common = sorted(set(ours) & set(ref))
        da = np.array([ours[l][0] / ref[l][0] - 1 for l in common])
        dv = np.array([ours[l][1] / ref[l][1] - 1 for l in common])
        worst_a = common[int(np.argmax(np.abs(da)))]
        ok(np.all(np.abs(da) < 0.05), "per-label surface area within 5% of VTK",
            f"max |diff| {100 * np.abs(da).max():.3f}% (label {worst_a}), "
            f"mean {100 * np.abs(da).mean():.4f}%")
        ok(all(ours[l][1] > 0 for l in common) and np.all(np.abs(dv) < 0.05),
            "per-label enclosed volume positive (outward winding) and within 5% of VTK",
            f"max |diff| {100 * np.abs(dv).max():.3f}%")
        counts = np.bincount(data.ravel())
        vox = np.array([counts[l] * abs(np.linalg.det(affine[:3, :3])) for l in common])
        ours_v = np.array([ours[l][1] for l in common])
        dvox = ours_v / vox - 1
        ok(np.all(np.abs(dvox) < 0.06), "per-label volume within 6% of the voxel volume",
            f"max |diff| {100 * np.abs(dvox).max():.2f}%, median {100 * np.median(np.abs(dvox)):.2f}%")

        # VTK's readers load every export
        r = vtk.vtkPLYReader()
        r.SetFileName(ply)
        r.Update()
        o = r.GetOutput()
        ok(o.GetNumberOfCells() == len(fc) and o.GetNumberOfPoints() == len(v)
            and o.GetPointData().GetScalars() is not None,
            "vtkPLYReader reads the PLY with colours",
            f"cells {o.GetNumberOfCells()} points {o.GetNumberOfPoints()}")

        for fmt, reader in (("obj", vtk.vtkOBJReader), ("stl", vtk.vtkSTLReader)):
            path = os.path.join(tmp, "aal." + fmt)
            rc, out = run(["mesh", AAL, "--out", path, "--smooth", "5", "--decimate", "0.25", "--quiet"])
            if rc != 0:
                ok(False, f"anatomy mesh writes {fmt.upper()}", out)
                continue
            r = reader()
            r.SetFileName(path)
            r.Update()
            n = r.GetOutput().GetNumberOfCells()
            ok(0.15 * n_ref < n <= 0.26 * n_ref, f"{reader.__name__} reads the decimated {fmt.upper()}",
                f"{n} triangles (full {n_ref})")
        mtl = os.path.join(tmp, "aal.mtl")
        with open(mtl) as f:
            n_mtl = sum(1 for line in f if line.startswith("newmtl "))
        ok(n_mtl == len(ref), "MTL has one material per label", f"{n_mtl} materials")

        rc, out = run(["mesh", AAL, "--out", os.path.join(tmp, "aal.stl"), "--quiet"])
        ok(rc != 0 and "exists" in out, "existing output is not replaced without --force", out)

        stem = os.path.join(tmp, "part.stl")
        rc, out = run(["mesh", AAL, "--out", stem, "--labels", "Hippocampus_L,Hippocampus_R,7",
                       "--per-label", "--smooth", "0", "--quiet"])
        files = sorted(f for f in os.listdir(tmp) if f.startswith("part_"))
        good = rc == 0 and len(files) == 3
        for f in files:
            r = vtk.vtkSTLReader()
            r.SetFileName(os.path.join(tmp, f))
            r.Update()
            good = good and r.GetOutput().GetNumberOfCells() > 0
        ok(good, "per-label STL files for named labels", f"{rc} {files} {out}")


if __name__ == "__main__":
    try:
        main()
    finally:
        print(f"1..{count()}")
    sys.exit(1 if failed() else 0)
