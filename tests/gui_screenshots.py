#!/usr/bin/python3
"""Make the documentation screenshots of the desktop application (not a test).

    /usr/bin/python3 tests/gui_screenshots.py BUILD_DIR [MODELS_DIR]

runs BUILD_DIR/app/anatomy-reconstruction under Xvfb on the demo case with the models
of MODELS_DIR (default: data/models; files <arch>.safetensors) and writes
  docs/images/window.png       the window after completing with U-Net + skip
  docs/images/compare-all.png  Compare All (the 2x2 grid) with the comparison table
  docs/images/comparison-table.png  that table alone (the organs present in the input folded)
and, when the real label maps of ../shared/real (or $AR_REAL_DIR) are there, the organ panel
on real files:
  docs/images/organs-totalseg.png            a TotalSegmentator v2 file (names in its header,
                                             the liver and both kidneys removed), grouped
  docs/images/organs-totalseg-completed.png  the same completed with U-Net: TotalSegmentator ids
  docs/images/organs-unknown.png             a v2 file without names: why nothing can be completed
  docs/images/organs-seg-nrrd.png            a 3D Slicer .seg.nrrd, read as TotalSegmentator v2
The app snapshots its own window in-process (see ui/ar-window-test.c)."""
import os
import sys
import tempfile

from guitest import run_xvfb, write_script

src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if len(sys.argv) < 2:
    sys.exit(__doc__)
exe = os.path.join(sys.argv[1], "app", "anatomy-reconstruction")
models = sys.argv[2] if len(sys.argv) > 2 else os.path.join(src, "data", "models")
images = os.path.join(src, "docs", "images")
tmp = tempfile.mkdtemp(prefix="ar-shots-")
script = os.path.join(tmp, "script.txt")
write_script(script, [
    "wait-idle",
    "network U-Net + skip",
    "complete",
    "wait-idle",
    "view anterior",
    "wait-idle",
    "screenshot " + os.path.join(images, "window.png"),
    "compare-all on",
    "wait-idle",
    "show-metrics on",
    "sleep 600",
    "wait-idle",
    "screenshot " + os.path.join(images, "compare-all.png"),
    "metrics",
    "screenshot " + os.path.join(tmp, "table-window.png"),
    "quit",
])
env = dict(os.environ, AR_TEST_SCRIPT=script, ANATOMY_MODELS_DIR=models, GTK_A11Y="none",
           GSETTINGS_BACKEND="memory", XDG_DATA_HOME=os.path.join(tmp, "xdg"))
code, _, out, _ = run_xvfb(exe, env, 900)
print(out, end="")
if code != 0:
    sys.exit(code)
# the table: its place in the window is printed by the "metrics" command ("at X Y W H")
from PIL import Image
at = [l.split(" at ")[1].split() for l in out.splitlines() if l.startswith("test: metrics: ok") and " at " in l]
if at:
    x, y, w, h = (int(v) for v in at[-1])
    Image.open(os.path.join(tmp, "table-window.png")).crop((x, y, x + w, y + h)).save(
        os.path.join(images, "comparison-table.png"))

real = os.environ.get("AR_REAL_DIR", os.path.join(src, "..", "shared", "real"))
ts = os.path.join(real, "tsexample_totalseg_v2_fast.nii.gz")
if not os.path.exists(ts):
    print("no real label maps in %s: organ panel screenshots skipped" % real)
    sys.exit(0)
import nibabel as nib
import numpy as np
im = nib.load(ts)
d = np.asarray(im.dataobj).copy()
d[np.isin(d, [2, 3, 5])] = 0          # TotalSegmentator v2: kidney_right, kidney_left, liver
partial = os.path.join(tmp, "tsexample_without_liver_kidneys.nii.gz")
nib.save(nib.Nifti1Image(d, im.affine, im.header), partial)
shot = lambda n: "screenshot " + os.path.join(images, n + ".png")
write_script(script, [
    "wait-idle",
    "open " + partial,
    "wait-idle",
    "untick heart",
    "expand lung",
    "view anterior",
    "wait-idle", "sleep 300",
    shot("organs-totalseg"),
    "complete",
    "wait-idle",
    "collapse lung",
    "expand kidney",
    "wait-idle", "sleep 300",
    shot("organs-totalseg-completed"),
    "open " + os.path.join(real, "s0004_totalseg_v2.nii.gz"),
    "wait-idle", "sleep 300",
    shot("organs-unknown"),
    "open " + os.path.join(real, "s0328_slicer_totalseg.seg.nrrd"),
    "wait-idle",
    "scheme totalseg-v2",
    "wait-idle",
    "expand spine",
    "wait-idle", "sleep 300",
    shot("organs-seg-nrrd"),
    "quit",
])
code, _, out, _ = run_xvfb(exe, env, 900)
print(out, end="")
sys.exit(code)
