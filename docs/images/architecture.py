#!/usr/bin/python3
"""Draws docs/images/architecture.png: the folders (static libraries) in their layers,
what each may use (grey arrows, from the meson.build dependencies) and the data flow
file -> volume -> network -> completed volume -> meshes -> GL views (blue, numbered).

Run from anywhere: /usr/bin/python3 docs/images/architecture.py (Debian's python3-matplotlib).
"""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

HERE = os.path.dirname(os.path.abspath(__file__))

# layer bands: name, y0, y1, colour
BANDS = [
    ("model/   C11 + GLib: no GTK, no GL", 0.0, 5.4, "#eef3f8"),
    ("render/", 5.7, 8.1, "#f4f0e6"),
    ("ui/   GTK 4", 8.4, 10.8, "#eef6ec"),
    ("app/", 11.1, 12.5, "#f6ecef"),
]

# folder boxes: key -> (title, subtitle, centre x, centre y, width)
BOXES = {
    "base": ("model/base", "atomic file writing, the worker pool, string helpers", 7.35, 0.55, 17.7),
    "volume": ("model/volume", "LabelVolume, NIfTI and NRRD I/O, label tables and schemes, metrics", 7.35, 1.75, 17.7),
    "phantom": ("model/phantom", "procedural torsos", 2.0, 3.0, 3.0),
    "training": ("model/training", "samples, training loop", 4.5, 4.6, 3.0),
    "nn": ("model/nn", "kernels, the 3 networks, weights files", 8.5, 3.0, 4.0),
    "completion": ("model/completion", "physical frame, merge, atlas", 11.0, 4.6, 4.0),
    "mesh": ("render/mesh", "surfaces, smoothing, export (no GL)", 14.2, 6.3, 4.4),
    "gl": ("render/gl", "scene, camera, renderer, offscreen", 14.2, 7.5, 4.4),
    "widgets": ("ui/widgets", "3D view (GtkGLArea), slices, organ panel", 14.2, 9.0, 4.4),
    "window": ("ui/window", "main window, completion in the background", 8.5, 10.2, 4.9),
    "testing": ("ui/testing", "test scripts (-Dgui_test_hooks=true)", 2.4, 10.2, 4.0),
    "cli": ("anatomy", "command line; uses render/gl, model/completion, model/training", 4.3, 11.8, 7.4),
    "gui": ("anatomy-reconstruction", "GtkApplication; uses ui/window (+ ui/testing)", 12.6, 11.8, 5.6),
}
BOX_H = 0.8


def edge(key, side, at=None):
    """A point on a box's border: side is "top", "bottom", "left" or "right"; @at is the
    x (top, bottom) or y (left, right) along that side, the middle by default."""
    _, _, x, y, w = BOXES[key]
    if side == "top":
        return (x if at is None else at, y + BOX_H / 2)
    if side == "bottom":
        return (x if at is None else at, y - BOX_H / 2)
    if side == "left":
        return (x - w / 2, y if at is None else at)
    return (x + w / 2, y if at is None else at)


# "may use": the direct dependencies declared in each folder's meson.build (the app's are
# named in its boxes)
USES = [
    (edge("volume", "bottom", 7.35), edge("base", "top", 7.35)),
    (edge("phantom", "bottom"), edge("volume", "top", 2.0)),
    (edge("nn", "bottom", 8.5), edge("volume", "top", 8.5)),
    (edge("training", "bottom", 4.5), edge("volume", "top", 4.5)),
    (edge("training", "left", 4.4), edge("phantom", "top", 2.6)),
    (edge("training", "right", 4.4), edge("nn", "top", 7.6)),
    (edge("training", "right", 4.8), edge("completion", "left", 4.8)),
    (edge("completion", "bottom", 9.2), edge("nn", "top", 9.2)),
    (edge("completion", "bottom", 12.75), edge("volume", "top", 12.75)),
    (edge("mesh", "bottom", 15.6), edge("volume", "top", 15.6)),
    (edge("gl", "bottom"), edge("mesh", "top")),
    (edge("widgets", "bottom", 15.2), edge("gl", "top", 15.2)),
    (edge("window", "right", 10.05), edge("widgets", "left", 9.15)),
    (edge("window", "bottom", 10.0), edge("completion", "top", 10.0)),
    (edge("testing", "right"), edge("window", "left")),
]

PNG_XY = (17.45, 7.5)
FILE_XY = (-1.3, 3.15)
# the data flow: start, end, label, label position, arc
FLOW = [
    ((FILE_XY[0], FILE_XY[1] - 0.45), edge("volume", "top", -1.3), "1  label_file_read", (-0.3, 2.4), 0.0),
    (edge("volume", "top", 12.3), edge("completion", "bottom", 12.3), "2  LabelVolume", (13.55, 2.6), 0.0),
    (edge("completion", "bottom", 9.75), edge("nn", "top", 9.75), "3  one-hot in,\n    probabilities out",
     (10.95, 3.8), 0.0),
    (edge("completion", "top", 12.5), edge("mesh", "bottom", 12.5), "4  completed LabelVolume", (14.05, 5.3), 0.0),
    (edge("mesh", "top", 13.2), edge("gl", "bottom", 13.2), "5  SurfaceMesh per label", (11.45, 6.9), 0.0),
    (edge("gl", "top", 13.2), edge("widgets", "bottom", 13.2), "6  GL views", (12.2, 8.2), 0.0),
    (edge("gl", "right"), (PNG_XY[0] - 0.45, PNG_XY[1]), "6'  anatomy render", (17.1, 8.05), 0.0),
]


def main():
    fig, ax = plt.subplots(figsize=(14, 9.6))
    ax.set_xlim(-2.6, 18.2)
    ax.set_ylim(-0.8, 12.7)
    ax.axis("off")

    for name, y0, y1, colour in BANDS:
        ax.add_patch(Rectangle((-2.5, y0), 20.6, y1 - y0, facecolor=colour, edgecolor="none", zorder=0))
        ax.text(-2.35, y1 - 0.12, name, ha="left", va="top", fontsize=10, color="#555555",
                fontweight="bold", zorder=1)

    for key, (title, sub, x, y, w) in BOXES.items():
        ax.add_patch(FancyBboxPatch((x - w / 2, y - BOX_H / 2), w, BOX_H,
                                    boxstyle="round,pad=0.02,rounding_size=0.12", facecolor="white",
                                    edgecolor="#333333", linewidth=1.1, zorder=3))
        ax.text(x, y + 0.14, title, ha="center", va="center", fontsize=10, fontweight="bold", zorder=4)
        ax.text(x, y - 0.18, sub, ha="center", va="center", fontsize=7.8, color="#333333", zorder=4)

    for p0, p1 in USES:
        ax.add_patch(FancyArrowPatch(p0, p1, arrowstyle="-|>", mutation_scale=10, color="#8c8c8c",
                                     linewidth=1.0, zorder=2, shrinkA=0, shrinkB=0))

    for xy, text in ((FILE_XY, "label map file\n.nii(.gz)  .nrrd  masks/"), (PNG_XY, "PNG")):
        ax.text(xy[0], xy[1], text, ha="center", va="center", fontsize=8.5, zorder=4,
                bbox=dict(boxstyle="square,pad=0.35", facecolor="white", edgecolor="#1f5fa8", linewidth=1.4))

    for p0, p1, label, at, rad in FLOW:
        style = "<|-|>" if label.startswith("3") else "-|>"
        ax.add_patch(FancyArrowPatch(p0, p1, arrowstyle=style, mutation_scale=17, color="#1f5fa8",
                                     linewidth=2.6, zorder=5, connectionstyle=f"arc3,rad={rad}",
                                     shrinkA=0, shrinkB=0))
        ax.text(at[0], at[1], label, ha="center", va="center", fontsize=8.5, color="#1f5fa8", zorder=6,
                fontweight="bold")

    ax.text(-2.5, -0.5, "grey arrow: may use (the dependencies in the folders' meson.build files; a library "
            "may also use what its dependencies use).\nblue: the data flow, file → volume → network → "
            "completed volume → meshes → GL views.", fontsize=9, color="#333333", ha="left", va="center")
    fig.savefig(os.path.join(HERE, "architecture.png"), dpi=100, bbox_inches="tight")


if __name__ == "__main__":
    main()
