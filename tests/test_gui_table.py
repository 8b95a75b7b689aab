#!/usr/bin/python3
"""GUI test of the comparison table (ui/window/ar-window-table.c) under Xvfb (TAP).

The application runs on the demo case with the shipped networks (data/models) and a
hidden test script (AR_TEST_SCRIPT, see ui/testing/ar-window-test.c): it completes with
U-Net and saves that result, runs Compare All, prints the table, saves it as CSV (twice:
the second time the existing file must be left alone), copies it to the clipboard and
reads it back, unfolds the organs present in the input and prints the table again.
Checks:
  1. the organs missing from the input come first under "Missing from the input (N)",
     then their mean Dice, then the expander "Present in the input (M)" whose rows are
     folded until it is opened (the table is shorter folded);
  2. the saved CSV has one row per organ in the table's order (missing first), with the
     reference and input volumes of nibabel's voxel counts;
  3. its U-Net columns match the result saved from the GUI: volume and volume difference
     (nibabel), Dice (numpy) and HD95 (scipy's distance transform on surface voxels,
     tests/hd95_crosscheck.py), and `anatomy eval --completed` gives the same figures;
  4. an existing CSV is not replaced; the clipboard holds the same CSV.
"""
import csv
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from guitest import run_xvfb, write_script
from taptest import finish, ok

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hd95_crosscheck import hd95  # noqa: E402


def tables(lines):
    """Each printed table: (rows split at ' | ', the metrics line)."""
    out, cur = [], []
    for l in lines:
        if l.startswith("test: metrics-row: "):
            cur.append(l[len("test: metrics-row: "):].split(" | "))
        elif l.startswith("test: metrics: "):
            out.append((cur, l))
            cur = []
    return out


def close(a, b, tol):
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return a is None and (b is None or math.isnan(b))
    return abs(a - b) <= tol


def num(s):
    return None if s == "" else float(s)


def main():
    exe = os.environ.get("AR_GUI_EXE")
    anatomy = os.environ.get("ANATOMY")
    src = os.environ.get("AR_SOURCE_ROOT", ".")
    try:
        import nibabel as nib
        import scipy.ndimage  # noqa: F401
    except ImportError:
        print("1..0 # SKIP nibabel or scipy is missing")
        return 0
    models = os.path.join(src, "data", "models")
    demo = os.path.join(src, "data", "demo")
    if not exe or not os.path.exists(exe) or shutil.which("xvfb-run") is None \
            or not all(os.path.exists(os.path.join(models, a + ".safetensors"))
                       for a in ("unet", "unet-skip", "googlenet-skip")) \
            or not os.path.exists(os.path.join(demo, "demo_complete.nii.gz")):
        print("1..0 # SKIP the GUI executable, xvfb-run, the shipped models or the demo case is missing")
        return 0
    tmp = tempfile.mkdtemp(prefix="ar-gui-table-")
    incomplete = os.path.join(demo, "demo_incomplete.nii.gz")
    complete = os.path.join(demo, "demo_complete.nii.gz")
    saved = os.path.join(tmp, "unet_completed.nii.gz")
    table_csv = os.path.join(tmp, "table.csv")
    shot = os.path.join(tmp, "table.png")
    script = os.path.join(tmp, "script.txt")
    write_script(script, [
        "wait-idle",
        "network U-Net",
        "complete",
        "wait-idle",
        "accept-all",
        "save-result " + saved,
        "compare-all on",
        "wait-idle",
        "show-metrics on",
        "sleep 500",
        "wait-idle",
        "metrics",
        "screenshot " + shot,
        "save-metrics " + table_csv,
        "save-metrics " + table_csv,
        "copy-metrics",
        "metrics-present on",
        "sleep 300",
        "wait-idle",
        "metrics",
        "quit",
    ])
    env = dict(os.environ, AR_TEST_SCRIPT=script, ANATOMY_MODELS_DIR=models, GTK_A11Y="none",
               GSETTINGS_BACKEND="memory", XDG_DATA_HOME=os.path.join(tmp, "xdg"))
    _, lines, out, err = run_xvfb(exe, env, 500)
    print("1..7")
    fails = [l for l in lines if ": FAILED" in l]
    second = [l for l in lines if l.startswith("test: save-metrics: ")]
    ok(lines and lines[-1].startswith("test: quit: ok") and len(fails) == 1 and len(second) == 2
       and second[0] == "test: save-metrics: ok " + table_csv and "exists" in second[1],
       "the app ran the script; saving the CSV again over the existing file was refused",
       "\n".join(lines[-40:]) + "\n" + err[-2000:])

    din = np.asarray(nib.load(incomplete).dataobj)
    ref_img = nib.load(complete)
    dref = np.asarray(ref_img.dataobj)
    ml_vox = abs(np.linalg.det(ref_img.affine[:3, :3])) / 1000.0
    spacing = np.sqrt((ref_img.affine[:3, :3] ** 2).sum(0))
    present = sorted(set(np.unique(din).tolist()) - {0})
    missing = sorted(set(np.unique(dref).tolist()) - set(present) - {0})

    tabs = tables(lines)
    diag = "\n".join(" | ".join(r) for t in tabs for r in t[0])
    good = len(tabs) == 2
    if good:
        rows, status = tabs[0]
        names = [r[0] for r in rows]
        try:
            i_miss = names.index("Missing from the input (%d)" % len(missing))
            i_mean = next(i for i, n in enumerate(names) if n.startswith("Mean Dice, %d organ" % len(missing)))
            i_pres = names.index("Present in the input (%d)" % len(present))
        except (ValueError, StopIteration):
            i_miss = i_mean = i_pres = -1
        good = 0 <= i_miss < i_mean < i_pres and i_mean - i_miss - 1 == len(missing) \
            and all(r[2] == "—" for r in rows[i_miss + 1:i_mean]) \
            and all(r[2] != "—" for r in rows[i_pres + 1:i_pres + 1 + len(present)]) \
            and names[-1].startswith("Mean Dice, all %d organs" % (len(missing) + len(present)))
        h0 = int(status.split(" at ")[1].split()[3]) if " at " in status else 0
        h1 = int(tabs[1][1].split(" at ")[1].split()[3]) if " at " in tabs[1][1] else 0
        fold = "present organs folded" in status and "present organs unfolded" in tabs[1][1] and 0 < h0 < h1
    ok(good, "the table lists the organs missing from the input first, then 'Present in the input (%d)'"
       % len(present), diag)
    ok(good and fold, "the present organs are folded until the expander opens (table %d px high, then %d)"
       % (h0 if good else 0, h1 if good else 0), tabs[0][1] + "\n" + tabs[1][1] if good else "")

    body, head = [], []
    if os.path.exists(table_csv):
        with open(table_csv, newline="") as f:
            t = list(csv.reader(f))
        head, body = t[0], t[1:]
    bad = []
    labels = [int(r[0]) for r in body]
    if labels != missing + present:
        bad.append("labels %s, want %s" % (labels, missing + present))
    for r in body:
        l = int(r[0])
        want_status = "missing" if l in missing else "present"
        ref_ml = np.count_nonzero(dref == l) * ml_vox
        in_ml = np.count_nonzero(din == l) * ml_vox
        if r[2] != want_status or not close(num(r[3]), ref_ml, 6e-4) \
                or not close(num(r[4]), in_ml if l in present else None, 6e-4):
            bad.append("row %s: want %s, %.3f mL, input %.3f mL" % (r, want_status, ref_ml, in_ml))
    ok(body and head[:5] == ["label", "organ", "status", "reference_ml", "input_ml"] and not bad,
       "the saved CSV has one row per organ, missing first, with nibabel's reference and input volumes",
       "\n".join(bad))

    # U-Net's columns against the result saved from the GUI
    bad, seen = [], []
    col = {k: head.index("U-Net " + k) for k in ("ml", "dice", "hd95_mm", "volume_diff_ml", "volume_diff_percent")} \
        if "U-Net ml" in head else None
    dres = np.asarray(nib.load(saved).dataobj) if os.path.exists(saved) else None
    for r in body if col and dres is not None else []:
        l = int(r[0])
        a, b = dres == l, dref == l
        na, nb = np.count_nonzero(a), np.count_nonzero(b)
        dice = 2 * np.count_nonzero(a & b) / (na + nb) if na + nb else float("nan")
        h = hd95(a, b, spacing)
        diff = (na - nb) * ml_vox
        pct = 100 * diff / (nb * ml_vox) if nb else float("nan")
        seen.append("label %d: GUI %s | numpy/scipy %.3f mL, Dice %.4f, HD95 %.3f, dV %.3f (%.2f %%)"
                    % (l, ",".join(r[col["ml"]:col["ml"] + 5]), na * ml_vox, dice, h, diff, pct))
        if not (close(num(r[col["ml"]]), na * ml_vox, 6e-4) and close(num(r[col["dice"]]), dice, 6e-5)
                and close(num(r[col["hd95_mm"]]), h, 6e-3) and close(num(r[col["volume_diff_ml"]]), diff, 6e-4)
                and close(num(r[col["volume_diff_percent"]]), pct, 6e-3)):
            bad.append(seen[-1])
    added = [int(r[0]) for r in body if col and r[2] == "missing" and num(r[col["hd95_mm"]])]
    ok(col and dres is not None and not bad and added,
       "U-Net's volume, Dice, HD95 and volume difference match nibabel, numpy and scipy on its saved result",
       "\n".join(bad or seen))

    r = subprocess.run([anatomy, "eval", "--completed", saved, "--reference", complete, "--input", incomplete,
                        "--json", os.path.join(tmp, "eval.json")], capture_output=True, text=True, timeout=300)
    bad = []
    if r.returncode == 0 and col:
        doc = json.load(open(os.path.join(tmp, "eval.json")))
        cli = {o["label"]: o for o in doc["organs"]}
        for row in body:
            o = cli.get(int(row[0]))
            if o is None or o["status"] != row[2] or not close(num(row[col["dice"]]), o["dice"], 6e-5) \
                    or not close(num(row[col["hd95_mm"]]), o["hd95_mm"], 6e-3) \
                    or not close(num(row[col["volume_diff_ml"]]), o["volume_diff_ml"], 6e-4):
                bad.append("%s | %s" % (row, o))
    ok(r.returncode == 0 and col and not bad, "`anatomy eval --completed` gives the GUI's figures",
       r.stderr[-1500:] + "\n".join(bad))

    clip = [l[len("test: clipboard-line: "):] for l in lines if l.startswith("test: clipboard-line: ")]
    text = open(table_csv).read() if os.path.exists(table_csv) else ""
    ok(clip and clip == [l for l in text.splitlines() if l] and list(csv.reader(io.StringIO(text))) == [head] + body,
       "Copy as CSV puts the same CSV on the clipboard", "%d clipboard lines, %d file lines" % (len(clip), len(body) + 1))
    return finish(tmp)


if __name__ == "__main__":
    sys.exit(main())
