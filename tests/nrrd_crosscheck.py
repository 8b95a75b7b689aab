"""Cross-check the NRRD reader and writer against independent readers and writers.

Independent tools: teem (Debian's teem-apps: `unu head`, `unu save`, `unu convert`: the NRRD
reference implementation) and VTK's vtkNrrdReader (python3-vtk9); nibabel makes the inputs
and gives the reference affines.

1. Our writer: label maps made with nibabel (oblique, LPS-like, LAS-like affines; labels
   needing uint8, uint16 and int32 storage, negative ones too) are converted by nrrd-tool to
   .nrrd (gzip and raw) and .seg.nrrd.  teem must parse every file, give back the same
   samples (`unu save -e raw`, which also checks the gzip CRC) and the same geometry
   (space directions/origin in LPS = nibabel's RAS affine with x and y negated); the
   .seg.nrrd keys must name every label as a 3D Slicer segment.  VTK must read the same
   dimensions, samples, spacing and origin.
2. Our reader: files written by teem in every encoding it has (raw, gzip, hex, ascii),
   both byte orders, every integer type and float/double, attached and detached (.nhdr),
   must read as the same labels and affine; bzip2 must be refused clearly.
3. Real files: the 3D Slicer segmentation of s0328 (values against teem, geometry against
   nibabel on the same patient's NIfTI, names and colours against teem's header) and its
   rewrite by us; the TotalSegmentator NIfTI whose names sit in a Caret XML extension,
   rewritten as .seg.nrrd with those names.
4. A 4D 3D Slicer file with overlapping layers: flattened as documented.

Output is TAP.  Environment: NRRD_TOOL = path of tests/nrrd-tool.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import gzip as gzipmod

import nibabel as nib
import numpy as np

from taptest import count, failed, report, skip

TOOL = os.environ.get("NRRD_TOOL", "build/tests/nrrd-tool")
UNU = shutil.which("teem-unu") or shutil.which("unu")
REAL = os.path.join(os.environ.get("AR_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..")),
                    "..", "shared", "real")


def run(*args):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True)


def tool_info(path):
    r = run(TOOL, "info", path)
    if r.returncode != 0:
        return None, r.stderr
    return json.loads(r.stdout), r.stderr


# --- an independent reading of NRRD headers (teem's output and ours) ----------------------

def parse_header(text):
    """Fields (lower-case names) and key/value pairs of a NRRD header."""
    fields, keys = {}, {}
    for line in text.splitlines()[1:]:
        if not line or line.startswith("#"):
            continue
        if ":=" in line and not re.match(r"^[a-z ]+: ", line):
            k, v = line.split(":=", 1)
            keys[k] = v.replace("\\n", "\n").replace("\\\\", "\\")
        elif ": " in line:
            k, v = line.split(": ", 1)
            fields[k.strip().lower()] = v.strip()
    return fields, keys


def lps_matrix(fields):
    """3x4 [directions | origin] in the file's space, and the space name."""
    vecs = re.findall(r"\(([^)]*)\)|none", fields["space directions"])
    cols = [list(map(float, v.split(","))) for v in vecs if v]
    m = np.zeros((3, 4))
    for c in range(3):
        m[:, c] = cols[c]
    if "space origin" in fields:
        m[:, 3] = list(map(float, fields["space origin"].strip("()").split(",")))
    return m, fields.get("space", "")


def ras_from_header(fields):
    m, space = lps_matrix(fields)
    space = space.lower()
    flip = {"left-posterior-superior": [-1, -1, 1], "lps": [-1, -1, 1], "right-anterior-superior": [1, 1, 1],
            "ras": [1, 1, 1], "left-anterior-superior": [-1, 1, 1], "las": [-1, 1, 1]}[space]
    a = np.eye(4)
    a[:3, :] = np.array(flip)[:, None] * m
    return a


TEEM_TYPES = {"signed char": np.int8, "unsigned char": np.uint8, "short": np.int16, "unsigned short": np.uint16,
              "int": np.int32, "unsigned int": np.uint32, "long long int": np.int64,
              "unsigned long long int": np.uint64, "float": np.float32, "double": np.float64}


def teem_samples(path, tmp):
    """The samples as teem reads them: `unu save -e raw -en little`, parsed here."""
    out = os.path.join(tmp, "teem-raw.nrrd")
    r = run(UNU, "save", "-f", "nrrd", "-e", "raw", "-en", "little", "-i", path, "-o", out)
    if r.returncode != 0:
        return None, None, r.stderr
    data = open(out, "rb").read()
    end = data.index(b"\n\n")
    fields, keys = parse_header(data[:end].decode())
    dt = np.dtype(TEEM_TYPES[fields["type"]]).newbyteorder("<")
    sizes = [int(s) for s in fields["sizes"].split()]
    arr = np.frombuffer(data[end + 2:], dtype=dt)
    return arr.reshape(sizes, order="F"), fields, ""


def vtk_read(path):
    from vtkmodules.vtkCommonCore import vtkObject
    from vtkmodules.vtkIOImage import vtkNrrdReader
    vtkObject.GlobalWarningDisplayOff()  # it warns about long 3D Slicer key lines it does not need
    from vtkmodules.util.numpy_support import vtk_to_numpy
    r = vtkNrrdReader()
    r.SetFileName(path)
    r.Update()
    im = r.GetOutput()
    scalars = im.GetPointData().GetScalars()
    if scalars is None:
        return None
    dims = im.GetDimensions()
    arr = vtk_to_numpy(scalars).reshape(dims, order="F")
    return {"dims": list(dims), "spacing": np.array(im.GetSpacing()), "origin": np.array(im.GetOrigin()), "data": arr}


def label_counts(arr):
    values, counts = np.unique(arr, return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts)}


def info_counts(info):
    return {int(k): v for k, v in info["labels"].items()}


# --- inputs --------------------------------------------------------------------------------

def affines():
    c, s = np.cos(0.3), np.sin(0.3)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ np.array([[1, 0, 0], [0, np.cos(0.2), -np.sin(0.2)],
                                                                   [0, np.sin(0.2), np.cos(0.2)]])
    obl = np.eye(4)
    obl[:3, :3] = rot @ np.diag([0.7, 1.3, 2.9])
    obl[:3, 3] = [-12.5, 40.25, 7.0]
    lps = np.diag([-1.5, -1.5, 1.5, 1.0])  # a Slicer-like grid: LPS axes
    lps[:3, 3] = [202.1, 3.1, -47.1]
    las = np.diag([-0.78, 0.78, 5.0, 1.0])  # AMOS-like
    las[:3, 3] = [180.0, -200.0, -300.5]
    return [("oblique", obl), ("lps-axes", lps), ("las-axes", las)]


def pattern(kind):
    i, j, k = np.meshgrid(np.arange(23), np.arange(17), np.arange(11), indexing="ij")
    base = (i * 7 + j * 3 + k * 13) % 40
    if kind == "uint8":
        return base.astype(np.uint8), np.uint8
    if kind == "uint16":
        return (base * 1000).astype(np.int32), np.int32  # stored as int32 by nibabel, labels need uint16
    data = base * 100000 - 3  # negative and > 65535: int32 storage
    data[(i + j) % 5 == 0] = -7
    return data.astype(np.int32), np.int32


def check_our_file(path, ref, affine, tmp, name, seg):
    """teem and VTK must read our @path as @ref with @affine (RAS)."""
    r = run(UNU, "head", path)
    if r.returncode != 0:
        report(False, f"teem parses {name}", r.stderr)
        return
    fields, keys = parse_header(r.stdout)
    problems = []
    aff = ras_from_header(fields)
    if fields.get("space") != "left-posterior-superior":
        problems.append(f"space {fields.get('space')}")
    if not np.allclose(aff, affine, atol=1e-6):
        problems.append(f"teem header affine (RAS)\n{aff}\nvs nibabel\n{affine}")
    arr, tf, err = teem_samples(path, tmp)
    if arr is None:
        problems.append("unu save failed: " + err)
    elif arr.shape != ref.shape or not np.array_equal(arr.astype(np.int64), ref.astype(np.int64)):
        problems.append(f"teem samples differ: shape {arr.shape} vs {ref.shape}")
    if seg:
        labels = sorted(int(v) for v in np.unique(ref) if v > 0)
        n = 0
        while f"Segment{n}_ID" in keys:
            n += 1
        got = [int(keys[f"Segment{i}_LabelValue"]) for i in range(n)]
        if got != labels:
            problems.append(f"segment label values {got[:10]}... vs labels {labels[:10]}...")
        if any(keys.get(f"Segment{i}_Layer") != "0" for i in range(n)):
            problems.append("a segment not in layer 0")
        for i in range(n):
            lv = keys[f"Segment{i}_LabelValue"]
            if keys.get(f"Segment{i}_Name") != f"label {lv}":
                problems.append(f"Segment{i}_Name = {keys.get(f'Segment{i}_Name')!r}")
                break
            ext = [int(x) for x in keys[f"Segment{i}_Extent"].split()]
            if ext != [0, ref.shape[0] - 1, 0, ref.shape[1] - 1, 0, ref.shape[2] - 1]:
                problems.append(f"Segment{i}_Extent = {ext}")
                break
            rgb = [float(x) for x in keys[f"Segment{i}_Color"].split()]
            if len(rgb) != 3 or not all(0 <= x <= 1 for x in rgb):
                problems.append(f"Segment{i}_Color = {rgb}")
                break
        for k in ("Segmentation_MasterRepresentation", "Segmentation_ContainedRepresentationNames",
                  "Segmentation_ReferenceImageExtentOffset"):
            if k not in keys:
                problems.append(f"{k} missing")
        if keys.get("Segmentation_MasterRepresentation") != "Binary labelmap":
            problems.append("master representation is not Binary labelmap")
    report(not problems, f"teem reads our {name}: samples, LPS geometry" + (", Slicer segment keys" if seg else ""),
           "\n".join(problems))

    vt = vtk_read(path)
    problems = []
    if vt is None:
        problems.append("vtkNrrdReader read nothing")
    else:
        if vt["dims"] != list(ref.shape):
            problems.append(f"dims {vt['dims']}")
        elif not np.array_equal(vt["data"].astype(np.int64), ref.astype(np.int64)):
            problems.append("samples differ")
        norms = np.linalg.norm(affine[:3, :3], axis=0)
        if not np.allclose(vt["spacing"], norms, atol=1e-6):
            problems.append(f"spacing {vt['spacing']} vs {norms}")
        lps_origin = affine[:3, 3] * [-1, -1, 1]
        if not np.allclose(vt["origin"], lps_origin, atol=1e-6):
            problems.append(f"origin {vt['origin']} vs LPS {lps_origin}")
    report(not problems, f"VTK vtkNrrdReader reads our {name}: samples, spacing, origin", "\n".join(problems))


def part_our_writer(tmp):
    for aname, affine in affines():
        for kind in ("uint8", "uint16", "int32"):
            data, dt = pattern(kind)
            src = os.path.join(tmp, f"in-{aname}-{kind}.nii.gz")
            img = nib.Nifti1Image(data.astype(dt), affine)
            img.set_data_dtype(dt)
            nib.save(img, src)
            ref = nib.load(src)
            ref_aff = ref.affine
            ref_data = np.asanyarray(ref.dataobj)
            for suffix, flags in ((".nrrd", []), ("-raw.nrrd", ["--raw"]), (".seg.nrrd", [])):
                out = os.path.join(tmp, f"ours-{aname}-{kind}{suffix}")
                r = run(TOOL, "convert", *flags, src, out)
                if r.returncode != 0:
                    report(False, f"convert {aname} {kind} to {suffix}", r.stderr)
                    continue
                check_our_file(out, ref_data, ref_aff, tmp, f"{aname} {kind}{suffix}", suffix == ".seg.nrrd")
                info, err = tool_info(out)
                ok = (info is not None and np.allclose(np.array(info["affine"]), ref_aff, atol=1e-6)
                      and info_counts(info) == label_counts(ref_data))
                report(ok, f"we read our {aname} {kind}{suffix} back identically", err)


# --- teem-written files ---------------------------------------------------------------------

def write_raw_nrrd(path, arr, header_extra, typename, endian="little"):
    dt = arr.dtype.newbyteorder("<" if endian == "little" else ">")
    with open(path, "wb") as f:
        f.write(f"NRRD0004\ntype: {typename}\ndimension: {arr.ndim}\n"
                f"sizes: {' '.join(str(s) for s in arr.shape)}\nendian: {endian}\nencoding: raw\n{header_extra}\n"
                .encode())
        f.write(arr.astype(dt).tobytes(order="F"))


def part_teem_writer(tmp):
    c, s = np.cos(0.4), np.sin(0.4)
    lps_dirs = np.array([[c * 0.8, s * 0.8, 0], [-s * 1.1, c * 1.1, 0], [0, 0.5, 2.5]]).T  # columns
    origin = np.array([-20.5, 33.25, 101.0])
    geo = ("space: left-posterior-superior\nspace directions: "
           + " ".join("(" + ",".join(repr(float(x)) for x in lps_dirs[:, c]) + ")" for c in range(3))
           + "\nkinds: domain domain domain\nspace origin: (" + ",".join(repr(float(x)) for x in origin) + ")\n")
    expect = np.eye(4)
    expect[:3, :3] = lps_dirs * np.array([-1, -1, 1])[:, None]
    expect[:3, 3] = origin * [-1, -1, 1]
    i, j, k = np.meshgrid(np.arange(13), np.arange(9), np.arange(7), indexing="ij")
    labels = ((i * 5 + j * 3 + k * 11) % 23).astype(np.int16)
    base = os.path.join(tmp, "teem-base.nrrd")
    write_raw_nrrd(base, labels, geo, "short")
    r = run(UNU, "head", base)
    report(r.returncode == 0, "teem accepts the hand-made base file", r.stderr)

    types = ["signed char", "uchar", "short", "ushort", "int", "uint", "longlong", "ulonglong", "float", "double"]
    for t in types:
        conv = os.path.join(tmp, f"teem-{t.replace(' ', '-')}.nrrd")
        r = run(UNU, "convert", "-t", t, "-i", base, "-o", conv)
        if r.returncode != 0:
            report(False, f"unu convert -t {t}", r.stderr)
            continue
        for enc in ("raw", "gzip", "hex", "ascii"):
            for en in ("little", "big"):
                if enc == "ascii" and en == "big":
                    continue
                out = os.path.join(tmp, f"teem-{t.replace(' ', '-')}-{enc}-{en}.nrrd")
                r = run(UNU, "save", "-f", "nrrd", "-e", enc, "-en", en, "-i", conv, "-o", out)
                if r.returncode != 0:
                    report(False, f"unu save {t} {enc} {en}", r.stderr)
                    continue
                info, err = tool_info(out)
                ok = (info is not None and info["dimensions"] == list(labels.shape)
                      and info_counts(info) == label_counts(labels)
                      and np.allclose(np.array(info["affine"]), expect, atol=1e-12))
                report(ok, f"we read teem's {t} {enc} {en}-endian file", err if info is None else
                       f"{info['dimensions']} {info['affine']}")
    # detached header (.nhdr + data file written by teem), gzip and raw
    for enc in ("raw", "gzip"):
        out = os.path.join(tmp, f"teem-detached-{enc}.nhdr")
        r = run(UNU, "save", "-f", "nrrd", "-e", enc, "-i", base, "-o", out)
        if r.returncode != 0:
            report(False, f"unu save {enc} .nhdr", r.stderr)
            continue
        info, err = tool_info(out)
        datafile = [f for f in os.listdir(tmp) if f.startswith(f"teem-detached-{enc}.") and not f.endswith(".nhdr")]
        ok = (info is not None and info_counts(info) == label_counts(labels)
              and np.allclose(np.array(info["affine"]), expect, atol=1e-12) and datafile)
        report(ok, f"we read teem's detached {enc} header (data in {datafile})", err)
    # bzip2: refused with a clear message
    out = os.path.join(tmp, "teem-bz2.nrrd")
    r = run(UNU, "save", "-f", "nrrd", "-e", "bzip2", "-i", base, "-o", out)
    if r.returncode == 0:
        info, err = tool_info(out)
        report(info is None and "bzip2" in err and out in err, "teem's bzip2 file is refused clearly", err)
    else:
        skip("teem's bzip2 file is refused clearly", "this teem has no bzip2")
    # a RAS file and a file with spacings only
    ras = os.path.join(tmp, "teem-ras.nrrd")
    write_raw_nrrd(ras, labels.astype(np.uint8), "space: right-anterior-superior\nspace directions: (2,0,0) (0,3,0) "
                   "(0,0,4)\nspace origin: (1,2,3)\n", "uchar")
    out = os.path.join(tmp, "teem-ras-gz.nrrd")
    r = run(UNU, "save", "-f", "nrrd", "-e", "gzip", "-i", ras, "-o", out)
    info, err = tool_info(out)
    want = np.array([[2, 0, 0, 1], [0, 3, 0, 2], [0, 0, 4, 3], [0, 0, 0, 1]], float)
    report(r.returncode == 0 and info is not None and np.allclose(np.array(info["affine"]), want, atol=0),
           "we read teem's RAS file with its affine unchanged", err)


# --- real files -------------------------------------------------------------------------------

def part_real(tmp):
    seg = os.path.join(REAL, "s0328_slicer_totalseg.seg.nrrd")
    nii = os.path.join(REAL, "s0328_totalseg_v2.nii.gz")
    if not (os.path.exists(seg) and os.path.exists(nii)):
        skip("real 3D Slicer file", "../shared/real not here")
        return
    arr, tf, err = teem_samples(seg, tmp)
    info, err2 = tool_info(seg)
    ref_aff = nib.load(nii).affine
    ok = (arr is not None and info is not None and info_counts(info) == label_counts(arr)
          and np.allclose(np.array(info["affine"]), ref_aff, atol=1e-5))
    report(ok, "s0328 .seg.nrrd: our labels = teem's samples, our affine = nibabel's on the same patient's NIfTI",
           err + err2)
    head = run(UNU, "head", seg).stdout
    _, keys = parse_header(head)
    names = {}
    colors = {}
    n = 0
    while f"Segment{n}_ID" in keys:
        lv = int(keys[f"Segment{n}_LabelValue"])
        names[lv] = keys[f"Segment{n}_Name"]
        colors[lv] = [float(x) for x in keys[f"Segment{n}_Color"].split()]
        n += 1
    ours = {e["id"]: e for e in info["table"]} if info else {}
    ok = (n == 69 and set(ours) == set(names) and all(ours[i]["name"] == names[i] for i in names)
          and all(abs(ours[i]["rgba"][c] - round(colors[i][c] * 255)) == 0 for i in names for c in range(3)))
    report(ok, f"s0328 .seg.nrrd: our table = the {n} segments in teem's header (names, colours)")

    out = os.path.join(tmp, "s0328-ours.seg.nrrd")
    r = run(TOOL, "convert", seg, out)
    if r.returncode != 0:
        report(False, "rewrite s0328 as .seg.nrrd", r.stderr)
        return
    arr2, tf2, err = teem_samples(out, tmp)
    _, keys2 = parse_header(run(UNU, "head", out).stdout)
    n2 = 0
    names2, colors2 = {}, {}
    while f"Segment{n2}_ID" in keys2:
        lv = int(keys2[f"Segment{n2}_LabelValue"])
        names2[lv] = keys2[f"Segment{n2}_Name"]
        colors2[lv] = [float(x) for x in keys2[f"Segment{n2}_Color"].split()]
        n2 += 1
    ok = (arr2 is not None and np.array_equal(arr2, arr) and names2 == names
          and all(np.allclose(colors2[i], colors[i], atol=0.5 / 255 + 1e-6) for i in names)
          and np.allclose(ras_from_header(tf2), ras_from_header(tf), atol=1e-9))
    report(ok, "our rewrite of s0328: teem reads the same samples, geometry, segment names and colours", err)
    v1, v2 = vtk_read(seg), vtk_read(out)
    ok = (v1 is not None and v2 is not None and np.array_equal(v1["data"], v2["data"])
          and np.allclose(v1["origin"], v2["origin"]) and np.allclose(v1["spacing"], v2["spacing"]))
    report(ok, "our rewrite of s0328: VTK reads it as it reads the original")

    # names from a NIfTI's Caret XML extension become Slicer segment names
    ts = os.path.join(REAL, "tsexample_totalseg_v2_fast.nii.gz")
    if not os.path.exists(ts):
        skip("TotalSegmentator NIfTI names to .seg.nrrd", "file missing")
        return
    img = nib.load(ts)
    xml_names = {}
    for ext in img.header.extensions:
        content = ext.get_content()
        if isinstance(content, bytes) and b"<LabelTable" in content:
            root = ET.fromstring(content.decode("utf-8", "replace")[content.find(b"<"):].strip("\0"))
            for lab in root.iter("Label"):
                xml_names[int(lab.get("Key"))] = (lab.text or "").strip()
    out = os.path.join(tmp, "tsexample.seg.nrrd")
    r = run(TOOL, "convert", ts, out)
    _, keys3 = parse_header(run(UNU, "head", out).stdout)
    present = sorted(int(v) for v in np.unique(np.asanyarray(img.dataobj)) if v > 0)
    got = {}
    n3 = 0
    while f"Segment{n3}_ID" in keys3:
        got[int(keys3[f"Segment{n3}_LabelValue"])] = keys3[f"Segment{n3}_Name"]
        n3 += 1
    ok = (r.returncode == 0 and xml_names and sorted(got) == present
          and all(got[v] == xml_names[v] for v in present if v in xml_names))
    report(ok, f"TotalSegmentator NIfTI -> .seg.nrrd: {len(present)} segments named from its XML extension",
           r.stderr + f"\n{list(got.items())[:5]}\n{list(xml_names.items())[:5]}")


# --- 4D layers -------------------------------------------------------------------------------

def part_layers(tmp):
    rng = np.random.default_rng(3)
    layers = np.zeros((2, 9, 8, 7), np.uint8)
    layers[0] = rng.integers(0, 3, size=(9, 8, 7))            # segments A=1, B=2
    layers[1] = (rng.random((9, 8, 7)) < 0.2).astype(np.uint8)  # segment C=1 in layer 1
    header = ("NRRD0004\ntype: unsigned char\ndimension: 4\nspace: left-posterior-superior\nsizes: 2 9 8 7\n"
              "space directions: none (-1.5,0,0) (0,-1.5,0) (0,0,2)\nkinds: list domain domain domain\n"
              "encoding: gzip\nspace origin: (10,20,30)\n"
              "Segment0_ID:=a\nSegment0_Name:=A\nSegment0_LabelValue:=1\nSegment0_Layer:=0\n"
              "Segment1_ID:=b\nSegment1_Name:=B\nSegment1_LabelValue:=2\nSegment1_Layer:=0\n"
              "Segment2_ID:=c\nSegment2_Name:=C\nSegment2_LabelValue:=1\nSegment2_Layer:=1\n\n")
    path = os.path.join(tmp, "layers.seg.nrrd")
    with open(path, "wb") as f:
        f.write(header.encode())
        f.write(gzipmod.compress(layers.tobytes(order="F")))
    r = run(UNU, "head", path)
    report(r.returncode == 0, "teem accepts the 4D layered segmentation", r.stderr)
    arr, _, _ = teem_samples(path, tmp)
    expect = np.where(arr[0] == 1, 1, np.where(arr[0] == 2, 2, 0))
    overlap = int(np.sum((arr[0] > 0) & (arr[1] > 0)))
    expect = np.where(arr[1] == 1, 3, expect)  # renumbered: C is the third segment, highest layer wins
    info, err = tool_info(path)
    ok = (info is not None and info_counts(info) == label_counts(expect)
          and [e["name"] for e in info["table"]] == ["A", "B", "C"]
          and f"{overlap} voxels lie in segments of more than one layer" in (info["warnings"] or ""))
    report(ok, f"4D layers flattened: C renumbered to 3, {overlap} overlapping voxels reported", err)
    r = run(TOOL, "convert", "--refuse-overlap", path, os.path.join(tmp, "x.nrrd"))
    report(r.returncode != 0 and "overlapping segments" in r.stderr, "overlapping layers refused when asked", r.stderr)


def main():
    if UNU is None:
        print("1..0 # SKIP teem-apps (unu) is not installed")
        return 0
    tmp = tempfile.mkdtemp(prefix="nrrd-crosscheck-")
    try:
        part_our_writer(tmp)
        part_teem_writer(tmp)
        part_real(tmp)
        part_layers(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"1..{count()}")
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
