#!/usr/bin/python3
"""GUI tests of anatomy-reconstruction under Xvfb (TAP).

The application runs a hidden test script (AR_TEST_SCRIPT, see ui/ar-window-test.c)
and snapshots its own window in-process.  Checks:
  1. it starts on the demo case and both views get drawn;
  2. the Input view shows the colours of the organs present in the input, not of the
     removed ones;
  3. loading the completed map adds the removed organs' colours to the Completed
     view only, and keeps the input organs there;
  4. the completed result saved from the GUI loads in nibabel with the input's affine
     and the completed labels;
  5. a corrupt file gives an error dialog naming the file, and the app keeps working
     (it is idle afterwards and can still take a screenshot).
The demo case comes from data/demo when present, else `anatomy phantom --demo`
writes one into a temporary folder (AR_DATADIR points the app at it).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

try:
    import nibabel as nib
except ImportError:  # pragma: no cover
    nib = None

n_test = 0
failed = False


def ok(cond, name, diag=""):
    global n_test, failed
    n_test += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n_test, name))
    if diag:
        for line in str(diag).splitlines():
            print("# " + line)
    failed = failed or not cond
    sys.stdout.flush()


def read_table(path):
    colours = {}
    with open(path) as f:
        for line in f:
            if line.lstrip().startswith("#") or not line.strip():
                continue
            parts = line.split()
            idx = int(parts[0])
            if idx > 0:
                name = line.split('"')[1] if '"' in line else parts[-1]
                colours[idx] = (name, np.array([float(parts[1]), float(parts[2]), float(parts[3])]))
    return colours


def class_counts(img, colours):
    """Pixels per label: each pixel goes to the organ colour it points closest to (any
    shading scales an sRGB colour, keeping its direction), if the match is close
    (cosine > 0.998) and the pixel is not dark background."""
    labels = sorted(colours)
    dirs = np.array([colours[l][1] / np.linalg.norm(colours[l][1]) for l in labels])
    a = img[..., :3].astype(np.float64)
    norm = np.linalg.norm(a, axis=-1) + 1e-9
    cos = (a @ dirs.T) / norm[..., None]
    best, bc = cos.argmax(-1), cos.max(-1)
    keep = (bc > 0.998) & (norm > 60)
    return {l: int(np.count_nonzero(keep & (best == i))) for i, l in enumerate(labels)}


def separable(colours, label, others):
    """TRUE if @label's colour direction differs from every colour in @others."""
    c = colours[label][1] / np.linalg.norm(colours[label][1])
    return all(float(np.dot(c, colours[o][1] / np.linalg.norm(colours[o][1]))) < 0.99
               for o in others if o != label)


def main():
    exe = os.environ.get("AR_GUI_EXE")
    anatomy = os.environ.get("ANATOMY")
    src = os.environ.get("AR_SOURCE_ROOT", ".")
    if not exe or not os.path.exists(exe) or shutil.which("xvfb-run") is None:
        print("1..0 # SKIP the GUI executable or xvfb-run is missing")
        return 0
    tmp = tempfile.mkdtemp(prefix="ar-gui-test-")
    datadir = os.path.join(src, "data")
    demo = os.path.join(datadir, "demo")
    if not os.path.exists(os.path.join(demo, "demo_incomplete.nii.gz")):
        datadir = tmp
        demo = os.path.join(tmp, "demo")
        r = subprocess.run([anatomy, "phantom", "--demo", "--out", demo,
                            "--remove", "spleen,stomach,kidney,pancreas"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print("1..0 # SKIP cannot make a demo case: " + r.stderr.strip())
            return 0
    incomplete = os.path.join(demo, "demo_incomplete.nii.gz")
    complete = os.path.join(demo, "demo_complete.nii.gz")
    corrupt = os.path.join(tmp, "corrupt_case.nii.gz")
    with open(incomplete, "rb") as f:
        data = f.read()
    with open(corrupt, "wb") as f:
        f.write(data[: len(data) // 3])   # truncated gzip stream
    saved = os.path.join(tmp, "saved_completed.nii.gz")
    shots = {k: os.path.join(tmp, k + ".png") for k in ("window", "views_in", "views_done", "after")}
    script = os.path.join(tmp, "script.txt")
    with open(script, "w") as f:
        f.write("\n".join([
            "wait-idle",
            "first-frame",
            "screenshot " + shots["window"],
            "screenshot-views " + shots["views_in"],
            "load-result " + complete,
            "wait-idle",
            "screenshot-views " + shots["views_done"],
            "save-result " + saved,
            "open " + corrupt,
            "expect-error",
            "wait-idle",
            "screenshot " + shots["after"],
            "open " + incomplete,
            "wait-idle",
            "complete",
            "wait-idle",
            "times",
            "quit",
        ]) + "\n")
    # An untrained network (random weights) exercises the real completion path.
    models = os.path.join(tmp, "models")
    os.makedirs(models, exist_ok=True)
    r = subprocess.run([anatomy, "init-model", "--arch", "unet", "--out",
                        os.path.join(models, "unet.safetensors"), "--widths", "4,8", "--grid", "32"],
                       capture_output=True, text=True)
    have_model = r.returncode == 0
    env = dict(os.environ)
    env["ANATOMY_MODELS_DIR"] = models
    env.update({"AR_TEST_SCRIPT": script, "AR_DATADIR": datadir, "GTK_A11Y": "none",
                "GSETTINGS_BACKEND": "memory", "XDG_DATA_HOME": os.path.join(tmp, "xdg")})
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", exe]
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
        out, err, code = r.stdout, r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        out, err, code = (e.stdout or b"").decode(), (e.stderr or b"").decode(), -1
    lines = [l for l in out.splitlines() if l.startswith("test: ")]
    print("1..10")
    ok(code == 0 and lines and lines[-1].startswith("test: quit: ok"),
       "the app ran the script and quit cleanly (status %d)" % code, out + err[-2000:])
    ok(any(l.startswith("test: wait-idle: ok") and "demo_incomplete" in l for l in lines),
       "it started on the demo case")

    colours = read_table(os.path.join(demo, "demo_incomplete_labels.txt")) \
        if os.path.exists(os.path.join(demo, "demo_incomplete_labels.txt")) else None
    if colours is None or not all(os.path.exists(p) for p in shots.values()):
        for _ in range(7):
            ok(False, "screenshots and label table exist", str(shots))
        return 1
    vin = np.asarray(Image.open(shots["views_in"]).convert("RGB"))
    vdone = np.asarray(Image.open(shots["views_done"]).convert("RGB"))
    w = vin.shape[1] // 2
    nin = nib.load(incomplete)
    ncomp = nib.load(complete)
    present = sorted(set(np.unique(np.asarray(nin.dataobj)).tolist()) - {0})
    removed = sorted(set(np.unique(np.asarray(ncomp.dataobj)).tolist()) - set(present) - {0})
    # Removed organs checked by colour: those not confusable with a present organ's.
    dr = [l for l in removed if separable(colours, l, present)]
    cin = class_counts(vin[:, :w], colours)
    cdone_l = class_counts(vdone[:, :w], colours)
    cdone_r = class_counts(vdone[:, w:], colours)
    diag = "present %s, removed %s (checked %s)\ninput view %s\ncompleted: left %s\n" \
           "           right %s" % (present, removed, dr, cin, cdone_l, cdone_r)
    ok(len(present) >= 2 and all(cin[l] > 300 for l in present),
       "the Input view shows the present organs in their colours", diag)
    ok(len(dr) >= 1 and all(cin[l] < 50 for l in dr) and all(cdone_l[l] < 50 for l in dr),
       "removed organs' colours are absent from the Input view, also after completion")
    ok(all(cdone_r[l] > 150 for l in dr) and all(cdone_r[l] > 300 for l in present),
       "the Completed view adds the removed organs' colours and keeps the others")

    if nib is not None and os.path.exists(saved):
        s = nib.load(saved)
        ok(np.allclose(s.affine, nin.affine, atol=1e-5), "saved result has the input's affine",
           "%s\n%s" % (s.affine, nin.affine))
        ok(np.array_equal(np.asarray(s.dataobj), np.asarray(ncomp.dataobj)),
           "saved result holds the completed labels")
    else:
        ok(False, "saved result exists", saved)
        ok(False, "saved result holds the completed labels")
    err_lines = [l for l in lines if l.startswith("test: expect-error")]
    ok(err_lines and "ok" in err_lines[0] and "corrupt_case.nii.gz" in err_lines[0],
       "a corrupt file gives an error dialog naming the file", "\n".join(err_lines))
    after_idle = lines.index(err_lines[0]) + 1 < len(lines) and \
        lines[lines.index(err_lines[0]) + 1].startswith("test: wait-idle: ok") if err_lines else False
    shot_after = any(l.startswith("test: screenshot: ok " + shots["after"]) for l in lines)
    ok(after_idle and shot_after, "the app stays responsive after the error")
    comp = [l for l in lines if l.startswith("test: complete")]
    times = [l for l in lines if l.startswith("test: times")]
    ok(have_model and comp and comp[0].startswith("test: complete: ok") and times
       and re.search(r"result read [\d.]+ ms mesh [\d.]+ ms \([1-9]\d* triangles\)", times[0]),
       "Complete runs the network in the background and shows its meshed result",
       "\n".join(comp + times) + ("" if have_model else "\ninit-model failed: " + r.stderr))
    if not failed:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("# files kept in " + tmp)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
