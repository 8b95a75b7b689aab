#!/usr/bin/python3
"""Reviewing a completion in the window (TAP), under Xvfb with the test-script hooks and
xdotool on the real window (ui/window/ar-window-review.c):

  1. after Complete on the demo case each added organ is a pending proposal with its
     network's confidence (voxels, mean probability, share under 0.5);
  2. the confidence colouring changes pixels of the completed view only, and the slice
     view's probability overlay changes its pixels;
  3. a click on a proposal's reject button (pointer) rejects it, A on a focused row
     accepts one (keyboard); Undo steps back;
  4. the saved file holds only the accepted organs (nibabel): first one accepted, then
     after Accept All the pending ones too, never the rejected one; the input's voxels are
     kept.
"""
import os
import re
import shutil
import sys
import tempfile
import time

import numpy as np

from guitest import Pointer, shot_paths
from taptest import finish, ok

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_gui_schemes import run_app  # noqa: E402

try:
    import nibabel as nib
    from PIL import Image
except ImportError:
    nib = None


def proposals(lines):
    """Each "proposals" command's rows as {label: (name, state, voxels, mean, below)}."""
    out, cur = [], {}
    for line in lines:
        if line.startswith("test: proposal: "):
            f = [c.strip() for c in line[len("test: proposal: "):].split(" | ")]
            cur[int(f[0])] = (f[1], f[2], int(f[3]), float(f[4]), float(f[5]))
        elif line.startswith("test: proposals: "):
            out.append(cur)
            cur = {}
    return out


def main():
    exe = os.environ.get("AR_GUI_EXE")
    src = os.environ.get("AR_SOURCE_ROOT", ".")
    demo = os.path.join(src, "data", "demo", "demo_incomplete.nii.gz")
    if not exe or not os.path.exists(exe) or shutil.which("xvfb-run") is None or nib is None:
        print("1..0 # SKIP the GUI executable, xvfb-run, nibabel or PIL is missing")
        return 0
    if shutil.which("xdotool") is None or not os.path.exists(os.path.join(src, "data", "models", "unet.safetensors")):
        print("1..0 # SKIP xdotool or the shipped U-Net is missing")
        return 0
    tmp = tempfile.mkdtemp(prefix="ar-gui-review-")
    shot = shot_paths(tmp, ("review-pending", "review-confidence"))
    views = {k: os.path.join(tmp, k + ".png") for k in ("plain", "conf", "slices-plain", "slices-conf")}
    saved1, saved2 = os.path.join(tmp, "accepted-one.nii.gz"), os.path.join(tmp, "accepted-all.nii.gz")
    script = [
        "wait-idle", "network U-Net", "complete", "wait-idle", "proposals", "sleep 300",
        "screenshot " + shot["review-pending"], "screenshot-views " + views["plain"],
        "confidence on", "wait-idle", "sleep 300", "screenshot-views " + views["conf"],
        "slices on", "slice coronal", "sleep 800", "wait-idle", "screenshot " + views["slices-conf"],
        "screenshot " + shot["review-confidence"],
        "confidence off", "sleep 300", "wait-idle", "screenshot " + views["slices-plain"], "slices off",
        "sleep 500",
        # pointer and keyboard from outside
        "geometry reject -1 3", "geometry row -1 8",
        "touch %s/ready-0" % tmp, "wait-file %s/go-0" % tmp, "sleep 300",
        "proposals", "undo-decision", "proposals",
        "accept 8", "proposals", "save-result " + saved1,
        "accept-all", "proposals", "save-result " + saved2, "quit",
    ]
    pointer = Pointer(os.path.join(tmp, "review.txt"))

    def driver(line):
        pointer.feed(line)
        if not re.match(r"test: touch: ok .*/ready-0", line):
            return
        pointer.attach()
        pointer.click(*pointer.geo.get("reject", (0, 0)))         # reject the spleen
        x, y = pointer.geo.get("row", (0, 0))
        pointer.click(x - 120, y, settle=0.4)                    # focus the liver's row
        pointer.xdo("key", "a")                                  # and accept it
        time.sleep(0.5)
        open(os.path.join(tmp, "go-0"), "w").close()

    lines, code, err = run_app(exe, script, tmp, {}, "review", driver)
    diag = "\n".join(pointer.log + lines[-12:]) + err[-1500:]
    print("1..9")
    ok(code == 0 and lines and lines[-1].startswith("test: quit: ok"), "the app ran the script (status %d)" % code,
       diag)
    p = proposals(lines)
    first = p[0] if p else {}
    ok(sorted(first) == [3, 8, 9] and all(v[1] == "pending" and v[2] > 0 and 0 < v[3] <= 1 and 0 <= v[4] <= 1
                                          for v in first.values()),
       "the completion's organs (spleen, liver, kidney) are pending proposals with their confidence: "
       + "; ".join("%s %d voxels, mean p %.2f, %.0f%% < 0.5" % (v[0], v[2], v[3], 100 * v[4])
                   for v in first.values()), str(p))

    if all(os.path.exists(f) for f in views.values()):
        a = np.asarray(Image.open(views["plain"]).convert("RGB")).astype(int)
        b = np.asarray(Image.open(views["conf"]).convert("RGB")).astype(int)
        w = a.shape[1] // 2
        changed = np.abs(a - b).sum(-1) > 30
        ok(changed[:, w:].mean() > 0.01 and changed[:, :w].mean() < 0.001,
           "the confidence colouring changes %.1f %% of the completed view's pixels, %.2f %% of the input view's"
           % (100 * changed[:, w:].mean(), 100 * changed[:, :w].mean()))
        c = np.asarray(Image.open(views["slices-plain"]).convert("RGB")).astype(int)
        d = np.asarray(Image.open(views["slices-conf"]).convert("RGB")).astype(int)
        # the slice view: the window's right quarter, below its tool bar
        hh, ww = c.shape[0], c.shape[1]
        region = (slice(int(0.15 * hh), int(0.9 * hh)), slice(int(0.77 * ww), ww))
        moved = np.abs(c[region] - d[region]).sum(-1) > 30
        ok(moved.mean() > 0.005, "the slice view's probability overlay changes %.1f %% of its pixels"
           % (100 * moved.mean()))
    else:
        ok(False, "screenshots of the views exist", str(views))
        ok(False, "screenshots of the slice view exist", str(views))

    after_clicks = p[1] if len(p) > 1 else {}
    ok(after_clicks.get(3, ("", ""))[1] == "rejected" and after_clicks.get(8, ("", ""))[1] == "accepted",
       "pointer: a click on the spleen's reject button rejects it; keyboard: A on the liver's row accepts it",
       str(after_clicks) + "\n" + diag)
    undone = p[2] if len(p) > 2 else {}
    ok(undone.get(8, ("", ""))[1] == "pending" and undone.get(3, ("", ""))[1] == "rejected",
       "Undo takes back the last decision only", str(undone))

    inp = np.asarray(nib.load(demo).dataobj)

    def labels_of(path):
        if not os.path.exists(path):
            return None
        v = np.asarray(nib.load(path).dataobj)
        return v if v.shape == inp.shape else None

    s1, s2 = labels_of(saved1), labels_of(saved2)
    ok(s1 is not None and np.array_equal(s1[inp != 0], inp[inp != 0]) and (s1 == 8).sum() > 1000
       and not np.isin(s1[inp == 0], [3, 9]).any(),
       "saved with the liver accepted: the liver only, the input's voxels kept", diag)
    ok(s2 is not None and (s2 == 8).sum() > 1000 and (s2 == 9).sum() > 100 and not (s2[inp == 0] == 3).any(),
       "after Accept All: liver and kidney, never the rejected spleen", diag)
    last = p[-1] if p else {}
    ok(last.get(3, ("", ""))[1] == "rejected" and last.get(9, ("", ""))[1] == "accepted",
       "Accept All takes the pending proposals and leaves the rejected one", str(last))
    return finish(tmp)


if __name__ == "__main__":
    sys.exit(main())
