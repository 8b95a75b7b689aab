#!/usr/bin/python3
"""GUI tests of opening files and of finding organs in the organ panel (TAP), under Xvfb.

The application runs a hidden test script (AR_TEST_SCRIPT, see ui/testing/ar-window-test.c);
where a check needs the real window, xdotool acts on it from outside (the script prints
the controls' positions, touches ready-N and waits for go-N).  Checks:
  1. a second launch with a file (relative to its own directory, on the same session bus
     and display) returns at once and the running window opens that file: its X title
     names it (xdotool), the window reports its path, it stays the only window; the file
     holds all 12 organs, so Complete is disabled and says nothing is missing; the screen,
     grabbed from outside, changes;
  2. without a session bus a launch with a file opens its own window and loads it (its
     views show organs), with no error dialog, and a second launch then opens a window of
     its own too;
  3. a key step in a compare-all cell (xdotool) draws simplified until the steps pause;
     wait-idle then finds every cell at full detail; opening a file while the grid is
     shown leaves the grid for the two views of the new file, and nothing runs: no job,
     no network result, no error;
  4. the organ panel's search entry (typed with xdotool into a TotalSegmentator v2 file
     made from the demo) shows only the matching labels and the groups holding them
     (case-insensitive), Escape clears it and the groups close again; "hide all" (a click)
     leaves the 3D views without organ pixels and "show all" brings them back; Ctrl+F goes
     to the search entry;
  5. a file whose labels map to none of the 12 organs lists the 12 classes without
     anything to tick, and Complete is disabled saying why.
Screenshots go to $AR_GUI_SHOTS when it is set (docs/images uses them).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from guitest import XVFB, Pointer, app_env, run_app, shot_paths
from taptest import finish, ok, skip

try:
    import nibabel as nib
    from PIL import Image
except ImportError:  # pragma: no cover
    nib = None

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_gui_schemes as schemes  # noqa: E402  (the TotalSegmentator file made from the demo)



def base_env(tmp):
    """The environment of a launch: no session bus (so that no other application instance,
    of another test running at the same time, gets its files; GLib's X11 autolaunch of a
    bus is kept off by an address that leads nowhere); the second launch's test starts its
    own bus."""
    env = dict(os.environ)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    if shutil.which("dbus-launch"):
        env["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=" + os.path.join(tmp, "no-such-bus")
    env.update({"GTK_A11Y": "none", "GSETTINGS_BACKEND": "memory", "XDG_DATA_HOME": os.path.join(tmp, "xdg")})
    return env


def line_of(lines, prefix):
    """The last line starting with @prefix, or ""."""
    found = [l for l in lines if l.startswith(prefix)]
    return found[-1] if found else ""


def organ_pixels(path):
    """Pixels of a views screenshot that are coloured (an organ), not the grey-blue
    background or the labels' dark boxes."""
    a = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return int(((a.max(axis=2) - a.min(axis=2)) > 60).sum())


def grab_screen(env, path):
    """The X screen of @env's display as seen from outside (PIL over XCB, in a process with
    that display's authority), saved to @path; None if it cannot be grabbed."""
    code = "import sys; from PIL import ImageGrab; ImageGrab.grab(xdisplay=sys.argv[1]).save(sys.argv[2])"
    r = subprocess.run([sys.executable, "-c", code, env.get("DISPLAY", ""), path], env=env,
                       capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(path):
        return None
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def screen_change(a, b):
    """The fraction of pixels that differ between two screen grabs (0 without both)."""
    if a is None or b is None or a.shape != b.shape:
        return 0.0
    return float((np.abs(a - b).max(axis=2) > 40).mean())


def rows_shown(rows):
    return [r for r in rows if r[6] == "shown"]


def second_launch(exe, tmp, other_rel, sub, shots):
    """1: a second launch on the same bus and display."""
    if shutil.which("dbus-run-session") is None or shutil.which("xdotool") is None:
        for name in ("second launch returns at once", "second launch: the running window opens its file",
                     "second launch: the X title names the file", "second launch: still one window",
                     "a file with all 12 organs: Complete says nothing is missing"):
            skip(name, "dbus-run-session or xdotool is missing")
        return
    script_name = "second"
    state = {"log": []}
    script = ["wait-idle", "title", "touch %s/ready-1" % tmp, "wait-file %s/go-1" % tmp, "wait-idle", "title",
              "enabled complete", "no-error", "sleep 300", "screenshot " + shots["second-launch"], "quit"]

    def xdo(env, *args):
        r = subprocess.run(["xdotool"] + list(args), capture_output=True, text=True, env=env)
        state["log"].append("xdotool %s -> %s %s" % (" ".join(args), r.stdout.strip(), r.stderr.strip()))
        return r.stdout

    def driver(line):
        if not re.match(r"test: touch: ok .*/ready-1", line):
            return
        env = base_env(tmp)
        env.pop("AR_TEST_SCRIPT", None)
        env.update(app_env(os.path.join(tmp, script_name + ".txt"),
                           ("DISPLAY", "XAUTHORITY", "DBUS_SESSION_BUS_ADDRESS")))
        state["env"] = env
        state["screen0"] = grab_screen(env, os.path.join(tmp, "screen-before.png"))
        t0 = time.monotonic()
        try:
            r = subprocess.run([exe, other_rel], cwd=sub, env=env, capture_output=True, text=True, timeout=60)
            state["rc"], state["out"] = r.returncode, r.stdout + r.stderr
        except subprocess.TimeoutExpired:
            state["rc"], state["out"] = -1, "timed out"
        state["secs"] = time.monotonic() - t0
        # the running window's X title, once the file is read
        for _ in range(120):
            state["found"] = xdo(env, "search", "--name", re.escape(os.path.basename(other_rel))).split()
            if state["found"]:
                break
            time.sleep(0.5)
        state["windows"] = xdo(env, "search", "--onlyvisible", "--name", "3D Anatomy Reconstruction").split()
        time.sleep(3)                      # its first frames
        state["screen1"] = grab_screen(env, os.path.join(tmp, "screen-after.png"))
        open(os.path.join(tmp, "go-1"), "w").close()

    cmd = ["dbus-run-session", "--"] + XVFB + [exe]
    lines, code, err = run_app(cmd, script, tmp, base_env(tmp), script_name, driver)
    diag = "\n".join(lines[-12:] + state["log"][-6:]) + "\n" + err[-800:] + "\n" + state.get("out", "")
    ok(state.get("rc") == 0 and state.get("secs", 99) < 20,
       "second launch returns at once (%.1f s)" % state.get("secs", -1), diag)
    want = os.path.join(sub, other_rel)
    titles = [l for l in lines if l.startswith("test: title: ok")]
    ok(code == 0 and len(titles) == 2 and titles[1].endswith("| " + want)
       and "other_case.nii.gz — 3D Anatomy Reconstruction" in titles[1],
       "second launch: the running window opens its file (resolved against the launch's directory)", diag)
    changed = screen_change(state.get("screen0"), state.get("screen1"))
    ok(bool(state.get("found")) and changed > 0.02,
       "second launch: the X title names the file (xdotool), the screen shows it (%.1f %% of the "
       "pixels changed)" % (100 * changed), diag)
    ok(len(state.get("windows", [])) == 1, "second launch: still one window", diag)
    en = line_of(lines, "test: enabled: ok complete")
    ok("complete disabled" in en and "Nothing to complete: all 12 organs are in the input" in en,
       "a file with all 12 organs: Complete says nothing is missing", diag)


def no_bus(exe, tmp, other, shots):
    """2: no session bus: each launch has its own window."""
    env = base_env(tmp)
    state = {}
    script_name = "nobus"

    def driver(line):
        if not re.match(r"test: touch: ok .*/ready-2", line):
            return
        env2 = dict(env)
        env2.update(app_env(os.path.join(tmp, script_name + ".txt")))
        s2 = os.path.join(tmp, "nobus-2.txt")
        with open(s2, "w") as f:
            f.write("wait-idle\ntitle\nno-error\nquit\n")
        env2["AR_TEST_SCRIPT"] = s2
        try:
            r = subprocess.run([exe, other], env=env2, capture_output=True, text=True, timeout=120)
            state["rc"], state["out"] = r.returncode, r.stdout
        except subprocess.TimeoutExpired:
            state["rc"], state["out"] = -1, "timed out"
        open(os.path.join(tmp, "go-2"), "w").close()

    script = ["wait-idle", "title", "no-error", "sleep 300", "screenshot-views " + os.path.join(tmp, "nobus-views.png"),
              "touch %s/ready-2" % tmp, "wait-file %s/go-2" % tmp, "title", "quit"]
    lines, code, err = run_app(XVFB + [exe, other], script, tmp, env, script_name, driver)
    diag = "\n".join(lines[-10:]) + "\n" + err[-800:] + "\n" + state.get("out", "")
    titles = [l for l in lines if l.startswith("test: title: ok")]
    px = organ_pixels(os.path.join(tmp, "nobus-views.png")) if os.path.exists(os.path.join(tmp, "nobus-views.png")) else 0
    ok(code == 0 and titles and titles[0].endswith("| " + other) and "test: no-error: ok" in lines and px > 5000,
       "no session bus: the launch opens its own window and loads its file (%d organ pixels)" % px, diag)
    ok(state.get("rc") == 0 and ("test: title: ok other_case.nii.gz — 3D Anatomy Reconstruction | " + other)
       in state.get("out", "") and len(titles) == 2 and titles[1].endswith("| " + other),
       "no session bus: a second launch opens its own window, the first keeps its own", diag)


def open_while_grid(exe, anatomy, tmp, other, datadir, shots):
    """3: a new file while the compare-all grid is shown."""
    models = os.path.join(tmp, "models")
    os.makedirs(models, exist_ok=True)
    for arch in ("unet", "unet-skip", "googlenet-skip"):
        subprocess.run([anatomy, "init-model", "--arch", arch, "--out", os.path.join(models, arch + ".safetensors"),
                        "--widths", "4,8", "--grid", "32"], capture_output=True, text=True)
    if len(os.listdir(models)) != 3 or shutil.which("xdotool") is None:
        for name in ("after a key step in a grid cell, wait-idle returns with every cell drawn at full detail",
                     "compare-all ran the three networks on the demo",
                     "open while the grid is shown: back to the two views of the new file, nothing runs, no error"):
            skip(name, "anatomy init-model failed or xdotool is missing")
        return
    env = base_env(tmp)
    env.update({"ANATOMY_MODELS_DIR": models, "AR_DATADIR": datadir})
    script = ["wait-idle", "compare-all on", "wait-idle", "grid", "geometry view 5", "touch %s/ready-k0" % tmp,
              "wait-file %s/go-k0" % tmp, "wait-idle", "grid",
              "open " + other, "wait-idle", "sleep 1500",
              "expect-idle 0", "grid", "times", "no-error", "sleep 300", "screenshot " + shots["open-after-grid"],
              "quit"]
    pointer = Pointer(os.path.join(tmp, "grid.txt"))

    def driver(line):
        # a click in the last cell, and a key step that turns the linked camera: that view
        # draws simplified until the steps pause, then at full detail
        if pointer.ready(line, "ready-k") is None:
            return
        if "view" in pointer.geo:
            pointer.click(*pointer.geo["view"], settle=0.3)
            pointer.xdo("key", "Left")
        open(os.path.join(tmp, "go-k0"), "w").close()

    lines, code, err = run_app(XVFB + [exe], script, tmp, env, "grid", driver)
    cells = [l for l in lines if l.startswith("test: grid-cell: ")]
    before, keyed, after = cells[:4], cells[4:8], cells[8:]
    full = [c.split(" | ") for c in keyed]
    ok(code == 0 and len(full) == 4 and all(c[4].split()[0] == c[7].split()[0] and c[3] != "0 meshes" for c in full),
       "after a key step in a grid cell, wait-idle returns with every cell drawn at full detail",
       "\n".join(keyed) + "\n" + "\n".join(pointer.log))
    ran = len(before) == 4 and all(" 0 meshes" not in c for c in before[1:])
    back = len(after) == 4 and all("| scene 0.000 ms |" in c and " 0 meshes" in c and "| hidden |" in c
                                   for c in after[1:]) and all("failed" not in c.lower() for c in after)
    times = line_of(lines, "test: times: ok")
    ok(code == 0 and ran, "compare-all ran the three networks on the demo", "\n".join(lines[-14:]) + err[-600:])
    ok(code == 0 and back and "test: expect-idle: ok" in " ".join(lines) and "result read 0.0 ms" in times
       and "test: no-error: ok" in lines,
       "open while the grid is shown: back to the two views of the new file, nothing runs, no error",
       "\n".join(lines[-14:]) + err[-600:])


def search_and_visibility(exe, tmp, v2, shots):
    """4: search, hide all, show all, from outside."""
    if shutil.which("xdotool") is None:
        for name in ("search", "escape", "hide all", "show all", "Ctrl+F", "no match"):
            skip("organ panel: " + name, "xdotool is missing")
        return
    views = {k: os.path.join(tmp, "views-%s.png" % k) for k in ("before", "hidden", "shown")}
    script_name = "search"
    script = ["wait-idle", "open " + v2, "wait-idle", "sleep 300", "screenshot-views " + views["before"],
              "geometry search 0", "geometry hide-all 0", "geometry show-all 0"]
    for i in range(3):
        script += ["touch %s/ready-s%d" % (tmp, i), "wait-file %s/go-s%d" % (tmp, i), "sleep 600", "wait-idle",
                   "sleep 300", "panel"]
        if i == 0:
            script += ["screenshot " + shots["organs-search"]]
        if i == 1:
            script += ["screenshot-views " + views["hidden"], "screenshot " + shots["organs-hidden"]]
        if i == 2:
            script += ["screenshot-views " + views["shown"]]
    script += ["search zzz", "panel", "search", "quit"]
    pointer = Pointer(os.path.join(tmp, script_name + ".txt"))
    at, click, xdo = pointer.geo, pointer.click, pointer.xdo

    def driver(line):
        n = pointer.ready(line, "ready-s")
        if n is None:
            return
        if n == 0 and "search" in at:
            click(*at["search"], settle=0.4)
            xdo("type", "--delay", "80", "Lobe")
        elif n == 1 and "hide-all" in at:
            click(*at["search"], settle=0.4)
            xdo("key", "Escape")
            time.sleep(0.3)
            click(*at["hide-all"], settle=0.4)
        elif n == 2 and "show-all" in at:
            click(*at["show-all"], settle=0.4)
            xdo("key", "ctrl+f")         # from the button (focused now) to the search entry
            time.sleep(0.3)
            xdo("type", "--delay", "80", "vert")
        open(os.path.join(tmp, "go-s%d" % n), "w").close()

    lines, code, err = run_app(XVFB + [exe], script, tmp, base_env(tmp), script_name, driver)
    rows = schemes.panels(lines)
    diag = "\n".join(pointer.log[-8:] + lines[-8:]) + err[-600:]
    if len(rows) < 4:
        ok(False, "organ panel: search, hide all, show all ran", diag)
        return
    searched, cleared, shown, nomatch = rows[0], rows[1], rows[2], rows[3]
    vis = rows_shown(searched)
    lobes = [r for r in vis if r[0] == "label"]
    ok(code == 0 and len(lobes) == 5 and all("lobe" in r[2] for r in lobes)
       and [r[2] for r in vis if r[0] != "label"] == ["lung"]
       and schemes.row(searched, "lung")[4] == "expanded",
       "organ panel: typing \"Lobe\" shows the five lobes under their (expanded) lung group, nothing else",
       diag + "\n" + "\n".join(map(str, vis)))
    groups = [r for r in cleared if r[0] in ("group", "organ")]
    ok(groups and all(r[6] == "shown" for r in groups) and schemes.row(cleared, "lung")[4] == "collapsed"
       and all(r[6] == "hidden" for r in cleared if r[0] == "label"),
       "organ panel: Escape clears the search: every class again, the lung group closed again",
       diag + "\n" + "\n".join(map(str, cleared[:20])))
    px = {k: organ_pixels(p) if os.path.exists(p) else -1 for k, p in views.items()}
    ok(all(r[7] == "invisible" for r in cleared) and px["before"] > 5000 and px["hidden"] < px["before"] / 50,
       "organ panel: a click on hide all hides every organ (organ pixels %d -> %d)" % (px["before"], px["hidden"]),
       diag)
    ok(all(r[7] == "visible" for r in shown) and abs(px["shown"] - px["before"]) < px["before"] * 0.05,
       "organ panel: a click on show all shows them again (organ pixels %d)" % px["shown"], diag)
    vis = rows_shown(shown)
    ok([r[2] for r in vis if r[0] != "label"] == ["spine"] and len([r for r in vis if r[0] == "label"]) == 5
       and all(r[2].startswith("vertebrae_") for r in vis if r[0] == "label"),
       "organ panel: Ctrl+F goes to the search entry; \"vert\" shows the spine with its vertebrae",
       diag + "\n" + "\n".join(map(str, vis)))
    ok(nomatch and all(r[6] == "hidden" for r in nomatch),
       "organ panel: a search matching nothing hides every row", diag)


def nothing_to_complete(exe, tmp, path, shots):
    """5: labels that map to none of the 12 organs."""
    script = ["wait-idle", "open " + path, "wait-idle", "panel", "enabled complete", "sleep 300",
              "screenshot " + shots["organs-nothing"], "quit"]
    lines, code, err = run_app(XVFB + [exe], script, tmp, base_env(tmp), "nothing")
    rows = schemes.panels(lines)
    rows = rows[-1] if rows else []
    classes = [r for r in rows if r[0] in ("organ", "group") and r[1] != "0"]
    en = line_of(lines, "test: enabled: ok complete")
    ok(code == 0 and len(classes) == 12 and all(r[5] == "-" for r in classes)
       and "complete disabled" in en and "none of the file's labels is one of the 12 organs" in en,
       "labels outside the 12 organs: nothing to tick, Complete disabled saying why",
       "\n".join(lines[-8:]) + "\n" + "\n".join(map(str, rows)) + err[-600:])


def main():
    exe = os.environ.get("AR_GUI_EXE")
    anatomy = os.environ.get("ANATOMY")
    src = os.environ.get("AR_SOURCE_ROOT", ".")
    if not exe or not os.path.exists(exe) or shutil.which("xvfb-run") is None or nib is None:
        print("1..0 # SKIP the GUI executable, xvfb-run, nibabel or PIL is missing")
        return 0
    datadir = os.path.join(src, "data")
    demo = os.path.join(datadir, "demo", "demo_complete.nii.gz")
    if not os.path.exists(demo):
        print("1..0 # SKIP the demo case is missing")
        return 0
    tmp = tempfile.mkdtemp(prefix="ar-gui-open-")
    shots = shot_paths(tmp, ("open-after-grid", "organs-search", "organs-hidden", "organs-nothing"))
    shots["second-launch"] = os.path.join(tmp, "second-launch.png")   # looks as open-after-grid
    sub = os.path.join(tmp, "elsewhere")
    os.makedirs(sub)
    other = os.path.join(sub, "other_case.nii.gz")
    shutil.copy(demo, other)           # all 12 organs, no reference beside it
    img = nib.load(demo)
    full = schemes.to_v2(np.asarray(img.dataobj).astype(np.uint8), img.affine)
    v2 = os.path.join(tmp, "case_totalseg_v2.nii.gz")
    hdr = nib.Nifti1Header()
    hdr.extensions.append(nib.nifti1.Nifti1Extension(0, schemes.caret_xml(schemes.V2)))
    nib.save(nib.Nifti1Image(full, img.affine, hdr), v2)
    # only the two labels outside the 12 classes (gallbladder, urinary bladder)
    other_only = os.path.join(tmp, "case_other_labels.nii.gz")
    hdr = nib.Nifti1Header()
    hdr.extensions.append(nib.nifti1.Nifti1Extension(0, schemes.caret_xml(schemes.V2)))
    nib.save(nib.Nifti1Image(np.where(np.isin(full, [4, 21]), full, 0).astype(np.uint8), img.affine, hdr), other_only)

    print("1..17")
    second_launch(exe, tmp, "other_case.nii.gz", sub, shots)
    no_bus(exe, tmp, other, shots)
    open_while_grid(exe, anatomy, tmp, other, datadir, shots)
    search_and_visibility(exe, tmp, v2, shots)
    nothing_to_complete(exe, tmp, other_only, shots)
    return finish(tmp)


if __name__ == "__main__":
    sys.exit(main())
