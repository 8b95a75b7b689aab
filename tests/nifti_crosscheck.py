"""Cross-check the NIfTI reader and writer against nibabel (Debian's python3-nibabel).

1. nibabel writes label maps in every supported datatype, byte order, form and
   NIfTI version (plus scaled and Analyze files); `anatomy info --json` must
   report nibabel's shape, affine and per-label voxel counts.
2. `anatomy convert` rewrites each of them; nibabel must read identical data and
   affine from our files.
3. Real atlases (mricron-data) and nibabel's own test files: same comparison;
   files nibabel reads as non-integral must be refused with "not a label map".

Output is TAP.  Environment: ANATOMY = path of the anatomy tool.
"""
import json
import os
import subprocess
import sys
import tempfile

import nibabel as nib
import numpy as np

from taptest import count, failed, ok, skip

ANATOMY = os.environ.get("ANATOMY", "build/app/anatomy")


def run(*args):
    return subprocess.run([ANATOMY, *args], capture_output=True, text=True)


def oblique_affine():
    c, s = np.cos(0.3), np.sin(0.3)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    aff = np.eye(4)
    aff[:3, :3] = rot @ np.diag([0.7, 1.3, 2.9])
    aff[:3, 3] = [-12.5, 40.25, 7.0]
    return aff


def pattern(dtype):
    i, j, k = np.meshgrid(np.arange(23), np.arange(17), np.arange(11), indexing="ij")
    base = (i * 7 + j * 3 + k * 13) % 40
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if dtype == np.int8:
        data = base - 20  # negative labels
    elif info is not None and info.max > 100000:
        data = base * 1000 + (50000 if info.min == 0 else -3)
    elif info is not None and info.max > 1000:
        data = base * 300
    else:
        data = base
    return data.astype(dtype)


def compare_info(path, ref_data, ref_affine, name):
    """anatomy info --json on path must agree with nibabel's view of it."""
    r = run("info", "--json", path)
    if r.returncode != 0:
        ok(False, name, r.stderr)
        return
    info = json.loads(r.stdout)
    problems = []
    if info["dimensions"] != list(ref_data.shape[:3]):
        problems.append(f"dimensions {info['dimensions']} vs nibabel {ref_data.shape}")
    aff = np.array(info["affine"])
    if not np.allclose(aff, ref_affine, atol=1e-4):
        problems.append(f"affine\n{aff}\nvs nibabel\n{ref_affine}")
    values, counts = np.unique(ref_data, return_counts=True)
    ours = {lab["id"]: lab["voxels"] for lab in info["labels"]}
    theirs = {int(v): int(c) for v, c in zip(values, counts)}
    if ours != theirs:
        diff = {k: (ours.get(k), theirs.get(k)) for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k)}
        problems.append(f"label counts differ (ours, nibabel): {dict(list(diff.items())[:8])}")
    ok(not problems, name, "\n".join(problems))


def nibabel_label_data(img):
    data = np.asanyarray(img.dataobj)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    return data


def write_scaled(path, raw, slope, inter, affine):
    """A NIfTI-1 file with explicit scl_slope/scl_inter, header made by nibabel."""
    hdr = nib.Nifti1Header()
    hdr.set_data_shape(raw.shape)
    hdr.set_data_dtype(raw.dtype)
    hdr.set_sform(affine, code=2)
    hdr.set_qform(affine, code=2)
    hdr["scl_slope"] = slope
    hdr["scl_inter"] = inter
    hdr["vox_offset"] = 352
    with open(path, "wb") as f:
        f.write(hdr.binaryblock)
        f.write(b"\0" * 4)
        f.write(raw.tobytes(order="F"))


def main():
    tmp = tempfile.mkdtemp(prefix="nifti-crosscheck-")
    affine = oblique_affine()
    dtypes = [np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.float32, np.float64]
    forms = [(".nii", nib.Nifti1Image), (".nii.gz", nib.Nifti1Image), (".hdr", nib.Nifti1Pair),
             (".img.gz", nib.Nifti1Pair), (".nii.gz", nib.Nifti2Image), (".hdr", nib.Nifti2Pair)]
    written = []
    for dt in dtypes:
        for endian in "<>":
            for ext, cls in forms:
                data = pattern(dt)
                hdr = cls.header_class(endianness=endian)
                img = cls(data, affine, header=hdr)
                img.set_data_dtype(np.dtype(dt).newbyteorder(endian))
                img.header.set_slope_inter(1, 0)
                name = f"{np.dtype(dt).name}{'be' if endian == '>' else 'le'}-{cls.__name__}{ext}"
                path = os.path.join(tmp, name)
                nib.save(img, path)
                if ext == ".img.gz":
                    path = path[: -len(".img.gz")] + ".hdr.gz"
                    if not os.path.exists(path):
                        path = path[: -len(".hdr.gz")] + ".hdr"
                ref = nib.load(path)
                compare_info(path, nibabel_label_data(ref), ref.affine, f"read {name} (nibabel-written)")
                written.append((path, name))

    # scaled integers that are labels after scaling, and scaled data that are not
    raw = (pattern(np.int16) // 300).astype(np.int16)
    p = os.path.join(tmp, "scaled.nii")
    write_scaled(p, raw, 2.0, 5.0, affine)
    ref = nib.load(p)
    compare_info(p, nibabel_label_data(ref), ref.affine, "read int16 with scl_slope=2 scl_inter=5")
    written.append((p, "scaled.nii"))
    p = os.path.join(tmp, "scaled-frac.nii")
    write_scaled(p, raw, 0.5, 0.0, affine)
    r = run("info", p)
    ok(r.returncode != 0 and "not a label map" in r.stderr and p in r.stderr,
       "refuse int16 whose scl_slope=0.5 makes fractions", r.stderr)

    # Analyze 7.5 (no magic): nibabel's default affine
    data = pattern(np.int16)
    img = nib.AnalyzeImage(data, np.diag([2.0, 3.0, 4.0, 1.0]))
    p = os.path.join(tmp, "analyze.hdr")
    nib.save(img, p)
    ref = nib.load(p)
    compare_info(p, nibabel_label_data(ref), ref.affine, "read Analyze 7.5 pair")

    # Our writer, read by nibabel
    for path, name in written:
        for out_ext in (".nii.gz", ".hdr", ".nii"):
            out = os.path.join(tmp, "ours-" + name.replace(".", "_") + out_ext)
            r = run("convert", path, out)
            if r.returncode != 0:
                ok(False, f"convert {name} -> {out_ext}", r.stderr)
                continue
            ref = nib.load(path)
            got = nib.load(out)
            same = (np.array_equal(nibabel_label_data(got), nibabel_label_data(ref))
                  and np.allclose(got.affine, ref.affine, atol=1e-5))
            ok(same, f"nibabel reads our {out_ext} of {name} identically",
               "" if same else f"affine\n{got.affine}\nvs\n{ref.affine}")
    # no overwrite without --force
    path, name = written[0]
    out = os.path.join(tmp, "exists.nii.gz")
    run("convert", path, out)
    before = open(out, "rb").read()
    r = run("convert", written[1][0], out)
    ok(r.returncode != 0 and "exists" in r.stderr and open(out, "rb").read() == before,
       "convert refuses to overwrite an existing file", r.stderr)

    # Real atlases and nibabel's own test files
    real = []
    tdir = "/usr/share/mricron/templates"
    for f in ("aal.nii.gz", "JHU-WhiteMatter-labels-1mm.nii.gz", "HarvardOxford-cort-maxprob-thr0-1mm.nii.gz",
              "AICHAmc.nii.gz", "brodmann.nii.gz"):
        real.append(os.path.join(tdir, f))
    ndir = os.path.join(os.path.dirname(nib.__file__), "tests", "data")
    for f in ("anatomical.nii", "example4d.nii.gz", "example_nifti2.nii.gz", "standard.nii.gz",
              "functional.nii", "analyze.hdr", "nifti1.hdr", "nifti2.hdr", "reoriented_anat_moved.nii"):
        real.append(os.path.join(ndir, f))
    for path in real:
        if not os.path.exists(path):
            skip(os.path.basename(path), "not installed")
            continue
        name = os.path.basename(path)
        try:
            img = nib.load(path)
            data = nibabel_label_data(img)
        except Exception as e:  # header-only test files: both readers must refuse
            r = run("info", path)
            ok(r.returncode != 0 and path in r.stderr, f"{name}: unreadable for nibabel ({type(e).__name__}), "
               "refused by us too", r.stderr)
            continue
        if data.ndim != 3:
            r = run("info", path)
            ok(r.returncode != 0 and "3D" in r.stderr, f"{name}: {data.ndim}D data refused", r.stderr)
        elif np.issubdtype(data.dtype, np.floating) and not np.all(np.floor(data) == data):
            r = run("info", path)
            ok(r.returncode != 0 and "not a label map" in r.stderr, f"{name}: non-integral data refused",
               r.stderr)
        else:
            compare_info(path, data, img.affine, f"real file {name} matches nibabel")

    print(f"1..{count()}")
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
