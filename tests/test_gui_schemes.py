#!/usr/bin/python3
"""GUI tests of label schemes and file formats (TAP), under Xvfb.

The files are made here, from the demo phantom (12 classes): its labels mapped to
TotalSegmentator v2 ids (lung lobes, vertebrae, ribs and autochthon muscles split by side
and level, two labels outside the 12 classes) with the liver and both kidneys removed,
  - as a NIfTI whose names sit in a Caret XML header extension, as TotalSegmentator writes,
  - the same without names (its scheme cannot be told: ids beyond 12),
  - as a 3D Slicer .seg.nrrd (written by the project's NRRD writer, read back here by a
    small NRRD reader of this file),
  - as a TotalSegmentator mask folder (only checked once label_file_read reads folders).
Checks, through the hidden test-script runner (AR_TEST_SCRIPT, ui/testing/ar-window-test.c):
  1. the organ panel groups the source labels under the 12 classes (lung with its lobes,
     spine with its vertebrae, ...), single labels named as their class are one row, the
     labels outside the 12 classes are in "Other labels", the missing classes (liver,
     kidney) are ticked for completion, the pulmonary artery, which v2 does not label, is
     offered but not ticked; the demo (12 classes) is flat;
  2. completion (the window's default network, U-Net + skip) adds the liver as TotalSegmentator's id 5 and the kidneys
     as 2 (right) and 3 (left) on their sides; every input voxel keeps its value (nibabel);
     the panel lists the new labels under their class;
  3. the exported meshes are named by the source names;
  4. the file without names opens, the panel says why nothing can be completed, Complete is
     disabled; choosing TotalSegmentator v2 in the panel groups it;
  5. the .seg.nrrd opens grouped, its completion is saved as .seg.nrrd with the source ids
     and TotalSegmentator's names;
  6. a file dropped on the window opens (the drop target's handler);
  7. pointer and keyboard (xdotool on the real window): a click on a group's expander opens
     it, a click on a "complete" box unticks a class, a click on a group row and keys
     (minus, Down, Right, Down, space, Left) collapse, move, expand and hide a label;
  8. a mask folder opens grouped and its completion is saved as a folder (skipped until
     label_file_read reads folders).
Screenshots go to $AR_GUI_SHOTS when it is set (docs/images uses them).
"""
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

import guitest
from guitest import Pointer, shot_paths
from taptest import finish, ok, skip

try:
    import nibabel as nib
except ImportError:  # pragma: no cover
    nib = None


# TotalSegmentator v2 ids and names used here (map_to_binary.py, dict "total")
V2 = {1: "spleen", 2: "kidney_right", 3: "kidney_left", 4: "gallbladder", 5: "liver", 6: "stomach",
      7: "pancreas", 10: "lung_upper_lobe_left", 11: "lung_lower_lobe_left", 12: "lung_upper_lobe_right",
      13: "lung_middle_lobe_right", 14: "lung_lower_lobe_right", 21: "urinary_bladder",
      29: "vertebrae_L3", 30: "vertebrae_L2", 31: "vertebrae_L1", 32: "vertebrae_T12", 33: "vertebrae_T11",
      51: "heart", 52: "aorta", 86: "autochthon_left", 87: "autochthon_right",
      96: "rib_left_5", 97: "rib_left_6", 98: "rib_left_7", 108: "rib_right_5", 109: "rib_right_6",
      110: "rib_right_7"}


def caret_xml(names):
    rows = []
    for key in sorted(names):
        h = (key * 2654435761) & 0xFFFFFF
        r, g, b = (h >> 16) / 255.0, ((h >> 8) & 255) / 255.0, (h & 255) / 255.0
        rows.append('<Label Key="%d" Red="%.4f" Green="%.4f" Blue="%.4f" Alpha="1"><![CDATA[%s]]></Label>'
                    % (key, r, g, b, names[key]))
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<CaretExtension>\n<VolumeInformation Index="0">\n'
           '<LabelTable>\n%s\n</LabelTable>\n<VolumeType><![CDATA[Label]]></VolumeType>\n'
           '</VolumeInformation>\n</CaretExtension>\n' % "\n".join(rows))
    return xml.encode()


def split_by(mask, coord, edges, ids, out):
    """Label the voxels of @mask by the band of @coord (one value per voxel) they fall in."""
    c = coord[mask]
    band = np.searchsorted(edges, c)
    vals = np.asarray(ids)[np.clip(band, 0, len(ids) - 1)]
    out[mask] = vals


def to_v2(d12, affine):
    """The demo's 12 classes in TotalSegmentator v2 ids."""
    ii, jj, kk = np.indices(d12.shape)
    x = affine[0, 0] * ii + affine[0, 1] * jj + affine[0, 2] * kk + affine[0, 3]
    z = affine[2, 0] * ii + affine[2, 1] * jj + affine[2, 2] * kk + affine[2, 3]
    mid = x[d12 == 6].mean()   # the spine's centroid: the midline
    right = x > mid            # RAS: +x is the patient's right
    out = np.zeros(d12.shape, np.uint8)
    for c, v in {2: 51, 3: 1, 4: 6, 5: 7, 8: 5, 10: 52}.items():
        out[d12 == c] = v
    out[(d12 == 9) & right] = 2
    out[(d12 == 9) & ~right] = 3
    out[(d12 == 11) & right] = 87
    out[(d12 == 11) & ~right] = 86
    lung_l, lung_r = (d12 == 1) & ~right, (d12 == 1) & right
    split_by(lung_l, z, [np.median(z[lung_l])], [11, 10], out)
    split_by(lung_r, z, list(np.quantile(z[lung_r], [1 / 3, 2 / 3])), [14, 13, 12], out)
    spine = d12 == 6
    split_by(spine, z, list(np.quantile(z[spine], [0.2, 0.4, 0.6, 0.8])), [29, 30, 31, 32, 33], out)
    for side, ids in ((right, [108, 109, 110]), (~right, [96, 97, 98])):
        ribs = (d12 == 7) & side
        split_by(ribs, z, list(np.quantile(z[ribs], [1 / 3, 2 / 3])), ids, out)
    # two labels outside the 12 classes, in free corners
    out[2:8, 2:8, 2:8][out[2:8, 2:8, 2:8] == 0] = 4
    out[-8:-2, 2:8, 2:8][out[-8:-2, 2:8, 2:8] == 0] = 21
    return out


def read_nrrd(path):
    """A minimal NRRD reader (this test's own): header fields, key/values and the data."""
    with open(path, "rb") as f:
        raw = f.read()
    end = raw.index(b"\n\n")
    head = raw[:end].decode()
    fields, keys = {}, {}
    for line in head.splitlines()[1:]:
        if line.startswith("#"):
            continue
        if ":=" in line:
            k, v = line.split(":=", 1)
            keys[k] = v
        elif ": " in line:
            k, v = line.split(": ", 1)
            fields[k.strip().lower()] = v.strip()
    body = raw[end + 2:]
    if fields.get("encoding") in ("gzip", "gz"):
        body = gzip.decompress(body)
    types = {"uint8": "u1", "unsigned char": "u1", "uchar": "u1", "int8": "i1", "short": "i2", "int16": "i2",
             "ushort": "u2", "unsigned short": "u2", "uint16": "u2", "int": "i4", "int32": "i4",
             "uint": "u4", "unsigned int": "u4", "uint32": "u4"}
    dt = np.dtype(types[fields["type"]])
    if dt.itemsize > 1:
        dt = dt.newbyteorder("<" if fields.get("endian", "little") == "little" else ">")
    sizes = [int(s) for s in fields["sizes"].split()]
    data = np.frombuffer(body, dt, count=int(np.prod(sizes))).reshape(sizes[::-1]).transpose()
    return fields, keys, data


def segment_names(keys):
    """{label value: (name, id)} of the Segment<N>_* keys."""
    out = {}
    n = 0
    while "Segment%d_LabelValue" % n in keys:
        out[int(keys["Segment%d_LabelValue" % n])] = (keys.get("Segment%d_Name" % n, ""),
                                                      keys.get("Segment%d_ID" % n, ""))
        n += 1
    return out


def run_app(exe, script_lines, tmp, env_extra, name, driver=None):
    """Runs the app under Xvfb on @script_lines, with @env_extra; @driver (optional) is called
    with each stdout line, for a test that acts from outside.  Returns (lines, status, err)."""
    env = dict(os.environ, GTK_A11Y="none", GSETTINGS_BACKEND="memory", XDG_DATA_HOME=os.path.join(tmp, "xdg"))
    env.update(env_extra)
    return guitest.run_app(guitest.XVFB + [exe], script_lines, tmp, env, name, driver, limit=400)


def panels(lines):
    """Each "panel" command's rows: lists of fields."""
    out, cur = [], []
    for l in lines:
        if l.startswith("test: panel-row: "):
            cur.append([c.strip() for c in l[len("test: panel-row: "):].split(" | ")])
        elif l.startswith("test: panel: "):
            out.append(cur)
            cur = []
    return out


def row(rows, name):
    return next((r for r in rows if r[2] == name), None)


def main():
    exe = os.environ.get("AR_GUI_EXE")
    src = os.environ.get("AR_SOURCE_ROOT", ".")
    nrrd_tool = os.environ.get("NRRD_TOOL")
    if not exe or not os.path.exists(exe) or shutil.which("xvfb-run") is None or nib is None:
        print("1..0 # SKIP the GUI executable, xvfb-run or nibabel is missing")
        return 0
    models = os.path.join(src, "data", "models")
    demo = os.path.join(src, "data", "demo", "demo_complete.nii.gz")
    if not os.path.exists(os.path.join(models, "unet-skip.safetensors")) or not os.path.exists(demo):
        print("1..0 # SKIP the shipped U-Net + skip (the window's default network) or the demo case is missing")
        return 0
    tmp = tempfile.mkdtemp(prefix="ar-gui-schemes-")
    shot = shot_paths(tmp, ("organs-grouped", "organs-completed", "organs-unknown", "organs-seg-nrrd"))

    img = nib.load(demo)
    d12 = np.asarray(img.dataobj).astype(np.uint8)
    full = to_v2(d12, img.affine)
    partial = full.copy()
    partial[np.isin(partial, [2, 3, 5])] = 0      # liver and kidneys removed
    names = {k: v for k, v in V2.items()}
    v2 = os.path.join(tmp, "case_totalseg_v2.nii.gz")
    hdr = nib.Nifti1Header()
    hdr.extensions.append(nib.nifti1.Nifti1Extension(0, caret_xml(names)))
    nib.save(nib.Nifti1Image(partial, img.affine, hdr), v2)
    unnamed = os.path.join(tmp, "case_unnamed.nii.gz")
    nib.save(nib.Nifti1Image(partial, img.affine), unnamed)
    seg = os.path.join(tmp, "case.seg.nrrd")
    r = subprocess.run([nrrd_tool, "convert", v2, seg], capture_output=True, text=True) if nrrd_tool \
        else None
    have_seg = r is not None and r.returncode == 0 and os.path.exists(seg)
    # a TotalSegmentator mask folder: one mask per class, the removed ones empty
    folder = os.path.join(tmp, "segmentations")
    os.makedirs(folder)
    for key, nm in names.items():
        nib.save(nib.Nifti1Image((partial == key).astype(np.uint8), img.affine),
                 os.path.join(folder, nm + ".nii.gz"))

    saved = os.path.join(tmp, "case_completed.nii.gz")
    saved_seg = os.path.join(tmp, "case_completed.seg.nrrd")
    obj = os.path.join(tmp, "case_meshes.obj")
    env = {"ANATOMY_MODELS_DIR": models}
    script = [
        "wait-idle",
        "panel",                       # the demo: 12 classes, flat
        "open " + v2,
        "wait-idle",
        "panel",
        "expand lung",
        "expand spine",
        "enabled open-folder",
        "wait-idle",
        "sleep 300",
        "screenshot " + shot["organs-grouped"],
        "complete",
        "wait-idle",
        "collapse spine",
        "expand kidney",
        "panel",
        "wait-idle",
        "sleep 300",
        "screenshot " + shot["organs-completed"],
        "accept-all",
        "save-result " + saved,
        "export-meshes " + obj,
        "open " + unnamed,
        "wait-idle",
        "panel",
        "enabled complete",
        "sleep 300",
        "screenshot " + shot["organs-unknown"],
        "scheme totalseg-v2",
        "wait-idle",
        "panel",
        "enabled complete",
    ]
    if have_seg:
        script += ["open " + seg, "wait-idle", "panel", "expand rib cage",
                   "wait-idle", "sleep 300", "screenshot " + shot["organs-seg-nrrd"], "complete", "wait-idle", "accept-all",
                   "save-result " + saved_seg]
    script += ["drop " + v2, "wait-idle", "quit"]
    lines, code, err = run_app(exe, script, tmp, env, "schemes")
    print("1..24")
    ok(code == 0 and lines and lines[-1].startswith("test: quit: ok"),
       "the app ran the script and quit cleanly (status %d)" % code,
       "\n".join([l for l in lines if "FAILED" in l] + [l for l in lines if "panel-row" not in l][-30:])
       + err[-2000:])
    ps = panels(lines)
    while len(ps) < 5:
        ps.append([])
    demo_rows, grouped, completed, unknown, forced = ps[:5]
    ok(len(demo_rows) == 12 and all(r[0] == "organ" for r in demo_rows),
       "the 12-class demo is listed flat, one row per organ, no groups", "\n".join(map(str, demo_rows)))

    lung, spine, ribs = row(grouped, "lung"), row(grouped, "spine"), row(grouped, "rib cage")
    lobes = [r for r in grouped if r[0] == "label" and r[1] == "1"]
    verts = [r for r in grouped if r[0] == "label" and r[1] == "6"]
    ok(lung and lung[0] == "group" and lung[3].startswith("5 labels") and len(lobes) == 5
       and {r[2] for r in lobes} == {V2[i] for i in (10, 11, 12, 13, 14)}
       and spine and spine[0] == "group" and len(verts) == 5 and ribs and ribs[3].startswith("6 labels"),
       "v2 NIfTI: lobes under lung, vertebrae under spine, ribs under rib cage", "\n".join(map(str, grouped)))
    single = [row(grouped, n) for n in ("heart", "spleen", "stomach", "pancreas", "aorta")]
    ok(all(r and r[0] == "organ" for r in single),
       "labels named as their class (heart, spleen, ...) are single rows, not nested")
    other = row(grouped, "Other labels")
    others = {r[2] for r in grouped if r[0] == "label" and r[1] == "0"}
    ok(other and other[3].startswith("2 labels") and others == {"gallbladder", "urinary_bladder"}
       and all(r[6] == "hidden" for r in grouped if r[0] == "label" and r[1] == "0"),
       "labels outside the 12 classes are in a collapsed \"Other labels\" group", str(other))
    miss = {n: row(grouped, n) for n in ("liver", "kidney", "pulmonary artery")}
    ok(all(miss[n] and miss[n][5] == "ticked" for n in ("liver", "kidney"))
       and miss["pulmonary artery"] and miss["pulmonary artery"][5] == "unticked"
       and all(r[5] == "-" for r in grouped if r[2] in ("lung", "heart", "spleen")),
       "the classes missing from the input (liver, kidney) are ticked for completion; the pulmonary "
       "artery, which TotalSegmentator v2 does not label, is offered unticked", str(miss))
    ok(any(l.startswith("test: enabled: ok open-folder enabled") for l in lines), "Open Folder… is available")

    # completion
    kid = row(completed, "kidney")
    kids = {r[2]: r for r in completed if r[0] == "label" and r[1] == "9"}
    liver = row(completed, "liver")
    ok(liver and liver[0] == "organ" and re.match(r"— → [\d.]+ mL", liver[3])
       and kid and kid[0] == "group" and set(kids) == {"kidney_left", "kidney_right"}
       and all(r[6] == "shown" for r in kids.values()),
       "after completion the panel lists the new liver and kidney_left/right under their classes",
       "\n".join(map(str, completed)))
    if os.path.exists(saved):
        sv = nib.load(saved)
        ds = np.asarray(sv.dataobj)
        added = ds[(partial == 0) & (ds != 0)]
        ids, counts = np.unique(added, return_counts=True)
        ok(np.allclose(sv.affine, img.affine, atol=1e-4) and np.array_equal(ds[partial != 0], partial[partial != 0]),
           "the saved completion keeps every input voxel's value and the affine (nibabel)")
        ok(set(ids.tolist()) <= {2, 3, 5} and dict(zip(ids.tolist(), counts.tolist())).get(5, 0) > 1000,
           "added voxels carry TotalSegmentator's ids: liver 5, kidneys 2/3 (nothing else)",
           "added ids %s" % dict(zip(ids.tolist(), counts.tolist())))
        ii = np.indices(ds.shape)[0]
        xw = img.affine[0, 0] * ii + img.affine[0, 3]
        ok(np.count_nonzero(ds == 2) > 50 and np.count_nonzero(ds == 3) > 50
           and xw[ds == 2].mean() > xw[ds == 3].mean(),
           "kidney_right (2) is added on the patient's right, kidney_left (3) on the left")
        ext = [e for e in sv.header.extensions if b"CaretExtension" in e.get_content()]
        ok(ext and b"liver" in ext[0].get_content() and b"kidney_left" in ext[0].get_content(),
           "the saved NIfTI carries TotalSegmentator's names in its header extension")
    else:
        for _ in range(4):
            ok(False, "the completion saved from the GUI exists", saved)
    groups = re.findall(r"^o (\S+)", open(obj).read(), re.M) if os.path.exists(obj) else []
    ok({"liver", "kidney_left", "lung_upper_lobe_left", "vertebrae_L1", "gallbladder"} <= set(groups),
       "exported meshes are named by the source names", " ".join(groups))

    # unknown scheme, then chosen
    en = [l for l in lines if l.startswith("test: enabled: ok complete")]
    ok(unknown and all(r[0] == "flat" for r in unknown) and len(unknown) == len(np.unique(partial)) - 1
       and en and "complete disabled" in en[0] and "No organ can be completed" in en[0],
       "a file without names and ids beyond 12 opens listed flat; Complete is disabled and says why",
       "\n".join(en + [str(r) for r in unknown[:4]]))
    ok(forced and row(forced, "lung") and row(forced, "lung")[0] == "group" and len(en) >= 2
       and "complete enabled" in en[1],
       "choosing TotalSegmentator v2 in the panel groups it and allows completion", "\n".join(en))

    # .seg.nrrd
    if have_seg:
        sp = ps[5] if len(ps) > 5 else []
        ok(row(sp, "lung") and row(sp, "lung")[0] == "group" and row(sp, "liver")
           and row(sp, "liver")[5] == "ticked", ".seg.nrrd: the panel groups its segments", str(sp[:6]))
        if os.path.exists(saved_seg):
            fields, keys, data = read_nrrd(saved_seg)
            segs = segment_names(keys)
            added = data[(partial == 0) & (data != 0)]
            ok(data.shape == partial.shape and np.array_equal(data[partial != 0], partial[partial != 0])
               and set(np.unique(added).tolist()) <= {2, 3, 5} and np.count_nonzero(added == 5) > 1000,
               "the .seg.nrrd completion keeps the input's values and adds TotalSegmentator ids",
               "added %s" % np.unique(added, return_counts=True)[0])
            ok(segs.get(5, ("",))[0] == "liver" and segs.get(86, ("",))[0] == "autochthon_left",
               "it is saved as .seg.nrrd with TotalSegmentator's names as segments",
               str(sorted(segs.items())[:8]))
        else:
            ok(False, "the .seg.nrrd completion was saved", saved_seg)
            ok(False, "its segments")
    else:
        for _ in range(3):
            skip(".seg.nrrd", "nrrd-tool could not write one: %s" % (r.stderr if r else "no NRRD_TOOL"))
    drops = [i for i, l in enumerate(lines) if l.startswith("test: drop: ok")]
    ok(drops and lines[drops[0] + 1].startswith("test: wait-idle: ok " + v2),
       "a file dropped on the window opens")

    # pointer and keyboard (xdotool) on the real window
    if shutil.which("xdotool") is None:
        for _ in range(3):
            skip("pointer and keyboard", "xdotool is missing")
    else:
        pointer_keyboard(exe, v2, tmp, env)

    # mask folder
    mask_folder(exe, folder, tmp, env, partial)
    return finish(tmp)


def pointer_keyboard(exe, v2, tmp, env):
    """Clicks and keys from outside, in two rounds: the script prints the controls'
    positions, touches ready-N and waits for go-N, which this side creates when done."""
    rounds = [["geometry check liver", "geometry expander lung"], ["geometry row spine"]]
    script = ["wait-idle", "open " + v2, "wait-idle", "sleep 300"]
    for i, geo in enumerate(rounds):
        script += geo + ["touch %s/ready-%d" % (tmp, i), "wait-file %s/go-%d" % (tmp, i), "sleep 200"]
    script += ["panel", "quit"]
    pointer = Pointer(os.path.join(tmp, "pointer.txt"))
    at, click = pointer.geo, pointer.click

    def driver(line):
        n = pointer.ready(line)
        if n is None:
            return
        if n == 0:
            click(*at["check"])        # untick liver
            click(*at["expander"])     # open lung
        else:
            x, y = at["row"]
            click(x - 60, y)                    # a click on the spine row's name: expands it, focuses it
            for k in ("minus", "Down", "Right", "Down", "space", "Left"):
                pointer.xdo("key", k)
                time.sleep(0.25)
        open(os.path.join(tmp, "go-%d" % n), "w").close()

    lines, code, err = run_app(exe, script, tmp, env, "pointer", driver)
    rows = panels(lines)
    rows = rows[-1] if rows else []
    diag = "\n".join(pointer.log + [str(r) for r in rows[:40]] + lines[-6:])
    liver, lung, spine, ribs = (row(rows, n) for n in ("liver", "lung", "spine", "rib cage"))
    ok(code == 0 and liver and liver[5] == "unticked" and lung and lung[4] == "expanded",
       "pointer: a click on a \"complete\" box unticks the liver, a click on lung's expander opens it", diag)
    first_rib = next((r for r in rows if r[0] == "label" and r[1] == "7"), None)
    ok(spine and spine[4] == "collapsed" and ribs and ribs[4] == "expanded",
       "keyboard: minus collapses the focused group, Down and Right open the next one", diag)
    ok(first_rib and first_rib[6] == "shown" and first_rib[7] == "invisible"
       and all(r[7] == "visible" for r in rows if r[0] == "label" and r[1] == "7" and r is not first_rib),
       "keyboard: Down moves into the group, space hides that label only", diag)


def mask_folder(exe, folder, tmp, env, partial):
    out = os.path.join(tmp, "segmentations_completed")
    script = ["wait-idle", "drop " + folder, "wait-idle", "panel", "quit"]
    lines, code, err = run_app(exe, script, tmp, env, "folder-probe")
    idle = [l for l in lines if l.startswith("test: wait-idle: ok")]
    if not (len(idle) >= 2 and idle[1].endswith(folder)):
        for _ in range(2):
            skip("mask folder", "this build's label_file_read does not read folders yet")
        return
    rows = panels(lines)[0]
    ok(row(rows, "lung") and row(rows, "lung")[0] == "group" and row(rows, "liver")
       and row(rows, "liver")[5] == "ticked", "a dropped mask folder opens grouped, the empty liver mask "
       "ticked for completion", str(rows[:6]))
    script = ["wait-idle", "open " + folder, "wait-idle", "complete", "wait-idle",
              "accept-all", "save-result " + out, "quit"]
    lines, code, err = run_app(exe, script, tmp, env, "folder")
    liver = os.path.join(out, "liver.nii.gz")
    good = code == 0 and os.path.exists(liver) and np.count_nonzero(np.asarray(nib.load(liver).dataobj)) > 1000
    if good:
        spleen = np.asarray(nib.load(os.path.join(out, "spleen.nii.gz")).dataobj)
        good = np.array_equal(spleen != 0, partial == 1)
    ok(good, "its completion is saved as a mask folder: liver.nii.gz filled, spleen.nii.gz unchanged",
       "\n".join(lines[-8:]) + err[-1000:])


if __name__ == "__main__":
    sys.exit(main())
