#!/usr/bin/python3
"""GUI benchmarks under Xvfb on llvmpipe (TAP, suite 'bench'):
launch to the first frame of the demo (drawn as while dragging) and to its first
full-quality frame, mesh rebuild time of a full label map (the demo's
reference, meshed by the same worker path as a completed result), and frame time while
rotating, summed over the visible views:
  - both views (Input | Reference) as while dragging (triangle budget, half resolution,
    1 sample) and at full quality (full meshes, full resolution, anti-aliased);
  - the compare-all grid (four views), the same two ways, and the process's resident
    memory a second after the grid's last frame, when the three models are installed
    ($ANATOMY_MODELS_DIR or data/models); otherwise that part is skipped.
Each run is repeated BENCH_GUI_RUNS times (default 3) and medians are printed, each
against its target (a line is "not ok" when the median misses it; the figures are absolute
times, so compare them on a quiet machine)."""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from guitest import run_xvfb, write_script

exe = os.environ.get("AR_GUI_EXE")
anatomy = os.environ.get("ANATOMY")
src = os.environ.get("AR_SOURCE_ROOT", ".")
if not exe or shutil.which("xvfb-run") is None:
    print("1..0 # SKIP no GUI executable or xvfb-run")
    sys.exit(0)
tmp = tempfile.mkdtemp(prefix="ar-gui-bench-")
datadir = os.path.join(src, "data")
demo = os.path.join(datadir, "demo")
if not os.path.exists(os.path.join(demo, "demo_incomplete.nii.gz")):
    datadir, demo = tmp, os.path.join(tmp, "demo")
    subprocess.run([anatomy, "phantom", "--demo", "--out", demo,
                    "--remove", "spleen,stomach,kidney,pancreas"], check=True, capture_output=True)
models = os.environ.get("ANATOMY_MODELS_DIR") or os.path.join(src, "data", "models")
have_models = all(os.path.exists(os.path.join(models, a + ".safetensors"))
                  for a in ("unet", "unet-skip", "googlenet-skip"))
script = os.path.join(tmp, "script.txt")
steps = ["wait-idle", "first-frame", "show-reference on", "wait-idle", "times",
         "rotate 30", "rotate-full 5"]
if have_models:
    # the memory once the window has settled (a view gives freed memory back 0.5 s after its
    # last full-quality frame)
    steps += ["compare-all on", "wait-idle", "show-metrics off", "wait-idle", "rotate 30", "rotate-full 3",
              "sleep 1000", "memory"]
steps += ["quit"]
write_script(script, steps)
env = dict(os.environ, AR_TEST_SCRIPT=script, AR_DATADIR=datadir, GTK_A11Y="none", ANATOMY_MODELS_DIR=models,
           GSETTINGS_BACKEND="memory", XDG_DATA_HOME=os.path.join(tmp, "xdg"))
runs = int(os.environ.get("BENCH_GUI_RUNS", "3"))
keys = ("first", "first_full", "mesh", "lod", "full", "grid_lod", "grid_full", "grid_rss")
res = {k: [] for k in keys}
tris = {}
for i in range(runs):
    _, _, out, _ = run_xvfb(exe, env, 900)
    for line in out.splitlines():
        print("# run %d: %s" % (i + 1, line))
    m = re.search(r"first-frame: ok ([\d.]+) ms .*, ([\d.]+) ms at full quality", out)
    if m:
        res["first"].append(float(m.group(1)))
        res["first_full"].append(float(m.group(2)))
    m = re.search(r"result read [\d.]+ ms mesh ([\d.]+) ms", out)
    if m:
        res["mesh"].append(float(m.group(1)))
    rot = re.findall(r"test: (rotate|rotate-full): ok .* (\d) views .* (\d+) triangles .*median ([\d.]+) ms", out)
    for kind, nv, ntri, med in rot:
        key = ("grid_" if nv == "4" else "") + ("lod" if kind == "rotate" else "full")
        res[key].append(float(med))
        tris[key] = int(ntri)
    m = re.search(r"test: memory: ok resident ([\d.]+) MiB", out)
    if m:
        res["grid_rss"].append(float(m.group(1)))
print("1..%d" % (8 if have_models else 5))
n = 0
fail = False
# (key, what, target or None, unit)
for key, what, target, unit in (
        ("first", "window creation to the first frame of the demo (drawn quickly)", 300, "ms"),
        ("first_full", "window creation to the first full-quality frame of the demo", None, "ms"),
        ("mesh", "mesh rebuild of a full label map (extract + smooth + prepare)", None, "ms"),
        ("lod", "frame time, 2 views, rotating as while dragging (budget 60k triangles)", 16, "ms"),
        ("full", "frame time, 2 views, rotating at full quality (full meshes)", 150, "ms"),
        ("grid_lod", "frame time, compare-all grid (4 views), as while dragging", 16, "ms"),
        ("grid_full", "frame time, compare-all grid (4 views), at full quality", 250, "ms"),
        ("grid_rss", "resident memory with the compare-all grid drawn", 400, "MiB")):
    if key.startswith("grid") and not have_models:
        continue
    n += 1
    v = res[key]
    extra = " [%d triangles]" % tris[key] if key in tris else ""
    if v:
        med = statistics.median(v)
        goal = "" if target is None else ", target <= %d %s" % (target, unit)
        print("%s %d - %s: median %.1f %s over %d runs (%s)%s%s"
              % ("ok" if target is None or med <= target else "not ok", n, what, med, unit, len(v),
                 ", ".join("%.1f" % x for x in v), extra, goal))
    else:
        print("not ok %d - %s: no measurement" % (n, what))
        fail = True
shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if fail else 0)
