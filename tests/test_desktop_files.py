#!/usr/bin/python3
"""desktop-file-validate and appstreamcli validate on the shipped desktop integration (TAP)."""
import os
import shutil
import subprocess
import sys

APP_ID = "io.github.anatomyreconstruction.AnatomyReconstruction"
src = os.environ.get("AR_SOURCE_ROOT", ".")
data = os.path.join(src, "data")
checks = [
    ("desktop-file-validate", ["desktop-file-validate", os.path.join(data, APP_ID + ".desktop")]),
    ("appstreamcli validate", ["appstreamcli", "validate", "--no-net",
                               os.path.join(data, APP_ID + ".metainfo.xml")]),
]
print("1..%d" % (len(checks) + 1))
status = 0
for i, (name, cmd) in enumerate(checks, 1):
    if shutil.which(cmd[0]) is None:
        print("ok %d - %s # SKIP not installed" % (i, name))
        continue
    r = subprocess.run(cmd, capture_output=True, text=True)
    # desktop-file-validate prints hints on success too; errors and warnings fail.
    bad = r.returncode != 0 or "error:" in r.stdout or "warning:" in r.stdout
    print(("not ok" if bad else "ok") + " %d - %s" % (i, name))
    for line in (r.stdout + r.stderr).splitlines():
        print("# " + line)
    status |= bad
icon = os.path.join(data, "icons/hicolor/scalable/apps", APP_ID + ".svg")
good = os.path.exists(icon) and open(icon).read().lstrip().startswith("<svg")
print(("ok" if good else "not ok") + " %d - the scalable icon exists and is SVG" % (len(checks) + 1))
sys.exit(1 if status or not good else 0)
