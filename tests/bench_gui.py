#!/usr/bin/python3
"""GUI benchmarks under Xvfb on llvmpipe (TAP, suite 'bench'):
launch to first frame of the demo, mesh rebuild time of a completed result, and
frame time while rotating both views (simplified meshes as while dragging, and full
meshes with 4x multisampling).  Each run is repeated BENCH_GUI_RUNS times (default 3)
and medians are printed."""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

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
script = os.path.join(tmp, "script.txt")
with open(script, "w") as f:
    f.write("wait-idle\nfirst-frame\nload-result %s\nwait-idle\ntimes\nrotate 30\nrotate-full 6\nquit\n"
            % os.path.join(demo, "demo_complete.nii.gz"))
env = dict(os.environ, AR_TEST_SCRIPT=script, AR_DATADIR=datadir, GTK_A11Y="none",
           GSETTINGS_BACKEND="memory", XDG_DATA_HOME=os.path.join(tmp, "xdg"))
runs = int(os.environ.get("BENCH_GUI_RUNS", "3"))
res = {"launch": [], "first": [], "mesh": [], "lod": [], "full": []}
for i in range(runs):
    t0 = time.monotonic()
    r = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", exe], env=env,
                       capture_output=True, text=True, timeout=600)
    out = r.stdout
    for line in out.splitlines():
        print("# run %d: %s" % (i + 1, line))
    m = re.search(r"first-frame: ok ([\d.]+) ms", out)
    if m:
        res["first"].append(float(m.group(1)))
    m = re.search(r"result read [\d.]+ ms mesh ([\d.]+) ms", out)
    if m:
        res["mesh"].append(float(m.group(1)))
    m = re.search(r"test: rotate: ok .*median ([\d.]+) ms", out)
    if m:
        res["lod"].append(float(m.group(1)))
    m = re.search(r"test: rotate-full: ok .*median ([\d.]+) ms", out)
    if m:
        res["full"].append(float(m.group(1)))
print("1..4")
n = 0
for key, what in (("first", "window creation to first frame of the demo in both views"),
                  ("mesh", "mesh rebuild of the completed result (extract + smooth + prepare)"),
                  ("lod", "frame time, both views, rotating with simplified meshes, 1x"),
                  ("full", "frame time, both views, rotating with full meshes, 4x MSAA")):
    n += 1
    v = res[key]
    if v:
        print("ok %d - %s: median %.1f ms over %d runs (%s)" % (n, what, statistics.median(v), len(v),
                                                             ", ".join("%.1f" % x for x in v)))
    else:
        print("not ok %d - %s: no measurement" % (n, what))
shutil.rmtree(tmp, ignore_errors=True)
sys.exit(0 if all(res[k] for k in ("first", "mesh", "lod", "full")) else 1)
