#!/usr/bin/python3
"""GUI tests of anatomy-reconstruction under Xvfb (TAP).

The application runs a hidden test script (AR_TEST_SCRIPT, see ui/testing/ar-window-test.c)
and snapshots its own window in-process.  Checks:
  1. it starts on the demo case and both views get drawn;
  2. the Input view shows the colours of the organs present in the input, not of the
     removed ones;
  3. the demo's reference (demo_complete, found by name) is shown as "Reference" and
     adds the removed organs' colours to the right view only;
  4. the comparison table: reference volumes agree with nibabel's voxel counts, Dice is
     1 for every organ present in both input and reference, removed organs have no
     input volume, and every Dice is in [0, 1];
  5. Complete (an untrained init-model network) runs in the background; its result
     saved from the GUI loads in nibabel with the input's affine and keeps every
     input label;
  6. Compare All with two of three models: the grid shows Input and the three
     networks, labelled, the missing model named as such and nothing drawn for it;
     after the third model appears it is computed while the other two stay cached;
     the grid's pixels show the input's organs in Input and drawing in the network cells;
     unticking an organ marks the three cached results stale and Compare All redoes them;
  7. a case of the benchmark layout finds its reference sXXXX_full.nii.gz by name;
  8. a corrupt file gives an error dialog naming the file, and the app keeps working
     (it is idle afterwards and can still take a screenshot);
  9. hostile inputs, in a second run: a FIFO and a 10^6-label file are refused at once with
     a dialog naming them (they hung the window), so is a model nested 60,000 levels deep
     (it crashed the app), Cancel frees the window at once during a long read, an all-zero
     sform opens with a warning, and closing the window while a load runs ends the application.
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

from guitest import run_xvfb, write_script
from taptest import finish, ok
from PIL import Image

try:
    import nibabel as nib
except ImportError:  # pragma: no cover
    nib = None


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
    # The benchmark layout: incomplete/sXXXX/sXXXX_k.nii.gz -> complete/sXXXX_full.nii.gz
    bench_in = os.path.join(tmp, "bench", "incomplete", "s0007", "s0007_3.nii.gz")
    os.makedirs(os.path.dirname(bench_in))
    os.makedirs(os.path.join(tmp, "bench", "complete"))
    shutil.copy(incomplete, bench_in)
    shutil.copy(complete, os.path.join(tmp, "bench", "complete", "s0007_full.nii.gz"))
    saved = os.path.join(tmp, "saved_completed.nii.gz")
    shots = {k: os.path.join(tmp, k + ".png") for k in ("window", "views_in", "views_ref", "grid", "after")}
    # Models: untrained networks (random weights) exercise the real completion path.
    # models_a lacks GoogLeNet + skip; models_b has all three.
    models_a = os.path.join(tmp, "models_a")
    models_b = os.path.join(tmp, "models_b")
    os.makedirs(models_a, exist_ok=True)
    os.makedirs(models_b, exist_ok=True)
    init_err = ""
    for arch in ("unet", "unet-skip", "googlenet-skip"):
        out = os.path.join(models_b, arch + ".safetensors")
        r = subprocess.run([anatomy, "init-model", "--arch", arch, "--out", out, "--widths", "4,8",
                            "--grid", "32"], capture_output=True, text=True)
        init_err += r.stderr
        if r.returncode == 0 and arch != "googlenet-skip":
            shutil.copy(out, models_a)
    have_models = len(os.listdir(models_b)) == 3
    script = os.path.join(tmp, "script.txt")
    write_script(script, [
        "wait-idle",
        "first-frame",
        "screenshot " + shots["window"],
        "screenshot-views " + shots["views_in"],
        "show-reference on",
        "wait-idle",
        "screenshot-views " + shots["views_ref"],
        "show-reference off",
        "complete",
        "wait-idle",
        "times",
        "accept-all",
        "save-result " + saved,
        "compare-all on",
        "wait-idle",
        "grid",
        "setenv ANATOMY_MODELS_DIR " + models_b,
        "compare-all off",
        "compare-all on",
        "wait-idle",
        "grid",
        "metrics",
        "screenshot-views " + shots["grid"],
        "compare-all off",
        "untick 3",
        "grid",
        "compare-all on",
        "wait-idle",
        "grid",
        "compare-all off",
        "open " + bench_in,
        "wait-idle",
        "metrics",
        "open " + corrupt,
        "expect-error",
        "wait-idle",
        "screenshot " + shots["after"],
        "quit",
    ])
    env = dict(os.environ)
    env["ANATOMY_MODELS_DIR"] = models_a
    env.update({"AR_TEST_SCRIPT": script, "AR_DATADIR": datadir, "GTK_A11Y": "none",
                "GSETTINGS_BACKEND": "memory", "XDG_DATA_HOME": os.path.join(tmp, "xdg")})
    code, lines, out, err = run_xvfb(exe, env, 400)
    hostile = hostile_run(exe, env, tmp)
    print("1..26")
    ok(code == 0 and lines and lines[-1].startswith("test: quit: ok"),
       "the app ran the script and quit cleanly (status %d)" % code, out + err[-2000:])
    ok(any(l.startswith("test: wait-idle: ok") and "demo_incomplete" in l for l in lines),
       "it started on the demo case")

    colours = read_table(os.path.join(demo, "demo_incomplete_labels.txt")) \
        if os.path.exists(os.path.join(demo, "demo_incomplete_labels.txt")) else None
    if colours is None or not all(os.path.exists(p) for p in shots.values()) or nib is None:
        for _ in range(23):
            ok(False, "screenshots, label table and nibabel exist", str(shots))
        print("# files kept in " + tmp)
        return 1
    vin = np.asarray(Image.open(shots["views_in"]).convert("RGB"))
    vref = np.asarray(Image.open(shots["views_ref"]).convert("RGB"))
    w = vin.shape[1] // 2
    nin = nib.load(incomplete)
    ncomp = nib.load(complete)
    din, dcomp = np.asarray(nin.dataobj), np.asarray(ncomp.dataobj)
    present = sorted(set(np.unique(din).tolist()) - {0})
    removed = sorted(set(np.unique(dcomp).tolist()) - set(present) - {0})
    # Removed organs checked by colour: those not confusable with a present organ's.
    dr = [l for l in removed if separable(colours, l, present)]
    cin = class_counts(vin[:, :w], colours)
    cref_l = class_counts(vref[:, :w], colours)
    cref_r = class_counts(vref[:, w:], colours)
    diag = "present %s, removed %s (checked %s)\ninput view %s\nwith reference: left %s\n" \
           "                right %s" % (present, removed, dr, cin, cref_l, cref_r)
    ok(len(present) >= 2 and all(cin[l] > 300 for l in present),
       "the Input view shows the present organs in their colours", diag)
    ok(len(dr) >= 1 and all(cin[l] < 50 for l in dr) and all(cref_l[l] < 50 for l in dr),
       "removed organs' colours are absent from the Input view, also beside the reference")
    ok(all(cref_r[l] > 150 for l in dr) and all(cref_r[l] > 300 for l in present)
       and any(l.startswith("test: show-reference: ok on") for l in lines),
       "the reference, shown as such, adds the removed organs' colours to the right view only")

    # The comparison table, as the widget shows it.
    first_table = lines[:next((i for i, l in enumerate(lines) if l.startswith("test: metrics:")), len(lines))]
    rows = [l[len("test: metrics-row: "):].split(" | ") for l in first_table if l.startswith("test: metrics-row: ")]
    by_name = {r[0].strip(): r for r in rows if r and r[0].strip() in {v[0] for v in colours.values()}}
    vox_ml = abs(np.linalg.det(nin.affine[:3, :3])) / 1000.0
    bad = []
    for l in present + removed:
        name = colours[l][0]
        r = by_name.get(name)
        if r is None:
            bad.append("no row for %s" % name)
            continue
        ref_ml = np.count_nonzero(dcomp == l) * vox_ml
        shown = float(r[1])
        if abs(shown - ref_ml) > max(0.06, 0.006 * ref_ml):
            bad.append("%s: reference %s mL shown, nibabel %.2f" % (name, r[1], ref_ml))
        dices = [r[i] for i in (3, 6, 9)]
        if l in present and not all(d == "1.000" for d in dices):
            bad.append("%s (present): Dice %s" % (name, dices))
        if l in removed and r[2].strip() != "—":
            bad.append("%s (removed): input volume %s" % (name, r[2]))
        if not all(0.0 <= float(d) <= 1.0 for d in dices if d not in ("—",)):
            bad.append("%s: Dice out of range %s" % (name, dices))
    ok(len(rows) >= len(present) + len(removed) + 3 and not bad,
       "the comparison table: reference volumes match nibabel, Dice 1 for organs in input and reference",
       "\n".join(bad + [" | ".join(r) for r in rows]))
    head = [r for r in rows if r and r[0] == "Organ"]
    ok(head and "U-Net" in head[0][3] and "U-Net + skip" in head[0][6] and "GoogLeNet + skip" in head[0][9]
       and not any("(not computed)" in c or "(no model)" in c for c in head[0]),
       "the table has a column per network, all computed", str(head))

    # Complete + save
    comp = [l for l in lines if l.startswith("test: complete")]
    times = [l for l in lines if l.startswith("test: times")]
    ok(have_models and comp and comp[0].startswith("test: complete: ok") and times
       and re.search(r"result read [\d.]+ ms mesh [\d.]+ ms \([1-9]\d* triangles\)", times[0]),
       "Complete runs the network in the background and shows its meshed result",
       "\n".join(comp + times) + ("" if have_models else "\ninit-model failed: " + init_err))
    if os.path.exists(saved):
        sv = nib.load(saved)
        ok(np.allclose(sv.affine, nin.affine, atol=1e-5) and sv.shape == nin.shape,
           "the result saved from the GUI has the input's affine and shape", "%s\n%s" % (sv.affine, nin.affine))
        ds = np.asarray(sv.dataobj)
        ok(np.array_equal(ds[din != 0], din[din != 0]), "the saved result keeps every input label")
    else:
        ok(False, "the result saved from the GUI exists", saved)
        ok(False, "the saved result keeps every input label")

    # Compare all
    grids = []
    cur = []
    for l in lines:
        if l.startswith("test: grid-cell: "):
            cur.append(l[len("test: grid-cell: "):].split(" | "))
        elif l.startswith("test: grid: ") and cur:
            grids.append(cur)
            cur = []
    ok(len(grids) == 4 and [c[1].split(" ·")[0] for c in grids[1]] ==
       ["Input", "U-Net", "U-Net + skip", "GoogLeNet + skip"] and all(c[5] == "mapped" for c in grids[1]),
       "Compare All shows Input, U-Net, U-Net + skip and GoogLeNet + skip, labelled, in the grid",
       "\n".join(" | ".join(c) for g in grids for c in g))
    g0 = grids[0] if grids else []
    ok(len(g0) == 4 and "No trained GoogLeNet + skip model" in g0[3][2] and g0[3][3] == "0 meshes"
       and all(int(c[3].split()[0]) > 0 for c in g0[:3]),
       "a network without a model file is shown as missing, not faked")
    ok(len(grids) == 4 and all(int(c[3].split()[0]) > 0 for c in grids[1])
       and grids[1][1][6] == grids[0][1][6] and grids[1][2][6] == grids[0][2][6] and grids[1][3][2] == "",
       "the third network runs when its model appears; the other two are cached, not recomputed")
    ok(len(grids) == 4 and all(c[2].startswith("Computed for other organs") for c in grids[2][1:])
       and all(c[2] == "" and int(c[3].split()[0]) > 0 and c[6] != o[6] for c, o in zip(grids[3][1:], grids[1][1:])),
       "unticking an organ marks every cached result stale, and Compare All recomputes all three",
       "\n".join(" | ".join(c) for g in grids for c in g))
    settled = [c for i in (0, 1, 3) if i < len(grids) for c in grids[i] if c[3] != "0 meshes"]
    ok(len(settled) >= 10 and all(c[4].split()[0] == c[7].split()[0] for c in settled),
       "after wait-idle every grid cell shows its surfaces at full detail (no simplified frame left)",
       "\n".join(" | ".join(c) for c in settled))
    gimg = np.asarray(Image.open(shots["grid"]).convert("RGB"))
    gh, gw = gimg.shape[0] // 2, gimg.shape[1] // 2
    quads = [gimg[:gh, :gw], gimg[:gh, gw:], gimg[gh:, :gw], gimg[gh:, gw:]]
    qc = [class_counts(q, colours) for q in quads]
    drawn = [int(np.count_nonzero(np.abs(q.astype(int) - q[:, -3:-2].astype(int)).sum(-1) > 60)) for q in quads]
    # untrained networks may cover the input's organs with a large blob of an added
    # organ: require the input's organs in the Input cell and drawing in the others
    ok(sum(qc[0][l] > 100 for l in present) >= len(present) - 2 and all(d > 2000 for d in drawn[1:]),
       "the grid's pixels show the input's organs in Input, and every network cell draws",
       "quadrant counts %s\ndrawn pixels %s" % (qc, drawn))

    heads = [l for l in lines if l.startswith("test: metrics-row: Comparison with the reference")]
    ok(len(heads) == 2 and "s0007_full.nii.gz" in heads[1],
       "the reference of a benchmark-layout case is found by name (complete/sXXXX_full.nii.gz)", "\n".join(heads))
    err_lines = [l for l in lines if l.startswith("test: expect-error")]
    ok(err_lines and "ok" in err_lines[0] and "corrupt_case.nii.gz" in err_lines[0],
       "a corrupt file gives an error dialog naming the file", "\n".join(err_lines))
    after_idle = lines.index(err_lines[0]) + 1 < len(lines) and \
        lines[lines.index(err_lines[0]) + 1].startswith("test: wait-idle: ok") if err_lines else False
    shot_after = any(l.startswith("test: screenshot: ok " + shots["after"]) for l in lines)
    ok(after_idle and shot_after, "the app stays responsive after the error")
    check_hostile(hostile)
    return finish(tmp)


def hostile_run(exe, env, tmp):
    """A second run of the app on hostile inputs; returns (status, test lines, output, paths)."""
    if nib is None:
        return -2, [], "nibabel is missing", ("", "", "")
    d = os.path.join(tmp, "hostile")
    os.makedirs(d, exist_ok=True)
    fifo = os.path.join(d, "pipe.nii.gz")
    os.mkfifo(fifo)
    many = os.path.join(d, "million_labels.nii.gz")
    big = os.path.join(d, "big_512.nii.gz")
    zero = os.path.join(d, "zero_sform.nii")
    a = np.arange(1, 10 ** 6 + 1, dtype=np.int32).reshape(100, 100, 100)
    nib.save(nib.Nifti1Image(a, np.eye(4)), many)
    b = np.zeros((512, 512, 512), dtype=np.uint8)
    b[100:400, 100:400, 100:400] = 3
    nib.save(nib.Nifti1Image(b, np.eye(4)), big)
    del a, b
    z = np.zeros((16, 16, 16), dtype=np.uint8)
    z[4:12, 4:12, 4:12] = 2
    img = nib.Nifti1Image(z, np.diag([2.0, 2.0, 2.0, 1.0]))
    img.set_qform(np.diag([2.0, 2.0, 2.0, 1.0]), 1)
    img.set_sform(np.zeros((4, 4)), 1)
    nib.save(img, zero)
    # a model whose header nests 60,000 levels (it overflowed the stack)
    deep = os.path.join(d, "deep_models")
    os.makedirs(deep, exist_ok=True)
    header = b'{"a":' * 60000 + b'1' + b'}' * 60000
    for arch in ("unet", "unet-skip", "googlenet-skip"):
        with open(os.path.join(deep, arch + ".safetensors"), "wb") as f:
            f.write(len(header).to_bytes(8, "little") + header)
    script = os.path.join(d, "script.txt")
    write_script(script, [
        "wait-idle",
        "open " + fifo,
        "expect-error",
        "wait-idle",
        "open " + many,
        "expect-error",
        "wait-idle",
        "setenv ANATOMY_MODELS_DIR " + deep,
        "complete",
        "expect-error",
        "wait-idle",
        "open " + zero,
        "expect-error",
        "wait-idle",
        "open " + big,
        "sleep 20",
        "cancel",
        "expect-idle 50",
        "open " + big,
        "sleep 60",
        "close",
    ])
    henv = dict(env)
    henv["AR_TEST_SCRIPT"] = script
    code, lines, out, err = run_xvfb(exe, henv, 150)
    return code, lines, out + err[-2000:], (fifo, many, zero)


def check_hostile(hostile):
    code, lines, output, (fifo, many, zero) = hostile
    ok(code == 0 and lines and lines[-1] == "test: close: ok",
       "the hostile run ended by closing the window while a load ran (status %d)" % code, output)
    errs = [l for l in lines if l.startswith("test: expect-error")]
    ok(len(errs) >= 1 and errs[0].startswith("test: expect-error: ok") and fifo in errs[0]
       and "named pipe" in errs[0], "a FIFO is refused at once with a dialog naming it", "\n".join(errs))
    ok(len(errs) >= 2 and errs[1].startswith("test: expect-error: ok") and many in errs[1]
       and "1000000 labels" in errs[1], "a 10^6-label file is refused at once, with the limit", "\n".join(errs))
    idle = [l for l in lines if l.startswith("test: wait-idle")]
    ok(len(idle) >= 5 and all(l.startswith("test: wait-idle: ok") for l in idle),
       "the window stays responsive after each hostile file", "\n".join(idle))
    ok(len(errs) >= 3 and errs[2].startswith("test: expect-error: ok") and "levels deep" in errs[2],
       "a model nested 60,000 levels deep is refused (it crashed the app)", "\n".join(errs))
    ok(len(errs) >= 4 and errs[3].startswith("test: expect-error: ok") and "zero_sform" in errs[3]
       and "sform is all zero" in errs[3], "an all-zero sform opens with a warning about it", "\n".join(errs))
    cancel = [l for l in lines if l.startswith("test: cancel") or l.startswith("test: expect-idle")]
    ok(len(cancel) == 2 and all(": ok" in l for l in cancel),
       "Cancel during a long read frees the window at once", "\n".join(cancel))


if __name__ == "__main__":
    sys.exit(main())
