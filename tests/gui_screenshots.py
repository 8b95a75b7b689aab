#!/usr/bin/python3
"""Make the documentation screenshots of the desktop application (not a test).

    /usr/bin/python3 tests/gui_screenshots.py BUILD_DIR [MODELS_DIR]

runs BUILD_DIR/app/anatomy-reconstruction under Xvfb on the demo case with the models
of MODELS_DIR (default: data/models; files <arch>.safetensors) and writes
  docs/images/window.png       the window after completing with U-Net + skip
  docs/images/compare-all.png  Compare All (the 2x2 grid) with the comparison table
The app snapshots its own window in-process (see ui/ar-window-test.c)."""
import os
import subprocess
import sys
import tempfile

src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if len(sys.argv) < 2:
    sys.exit(__doc__)
exe = os.path.join(sys.argv[1], "app", "anatomy-reconstruction")
models = sys.argv[2] if len(sys.argv) > 2 else os.path.join(src, "data", "models")
images = os.path.join(src, "docs", "images")
tmp = tempfile.mkdtemp(prefix="ar-shots-")
script = os.path.join(tmp, "script.txt")
with open(script, "w") as f:
    f.write("\n".join([
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
        "quit",
    ]) + "\n")
env = dict(os.environ, AR_TEST_SCRIPT=script, ANATOMY_MODELS_DIR=models, GTK_A11Y="none",
           GSETTINGS_BACKEND="memory", XDG_DATA_HOME=os.path.join(tmp, "xdg"))
r = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", exe], env=env,
                   capture_output=True, text=True, timeout=900)
print(r.stdout, end="")
sys.exit(r.returncode)
