#!/usr/bin/python3
"""Plots the training logs of `anatomy train --log` (TSV: step, loss, ce, dice_loss,
val_removed_dice, lr, elapsed_s) as docs/images/training-curves.png.

/usr/bin/python3 tests/plot_training_curves.py OUT.png NAME=LOG.tsv [NAME=LOG.tsv ...]

One colour per architecture (by the words "GoogLeNet", "skip" in NAME); dashed when
NAME contains "32³" (the earlier, coarser round).
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    """A resumed run appends to the same log from its checkpoint's step: rows at or
    after a step that appears again are the discarded tail of the interrupted run."""
    rows = []
    with open(path) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            s = int(row["step"])
            while rows and int(rows[-1]["step"]) >= s:
                rows.pop()
            rows.append(row)
    steps, loss, vsteps, vdice, minutes = [], [], [], [], []
    for row in rows:
        s = int(row["step"])
        steps.append(s)
        loss.append(float(row["loss"]))
        minutes.append(float(row["elapsed_s"]) / 60.0)
        if row["val_removed_dice"]:
            vsteps.append(s)
            vdice.append(float(row["val_removed_dice"]))
    return steps, loss, vsteps, vdice, minutes


def main():
    out = sys.argv[1]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for spec in sys.argv[2:]:
        name, path = spec.split("=", 1)
        steps, loss, vsteps, vdice, minutes = read(path)
        colour = "C2" if "GoogLeNet" in name else "C1" if "skip" in name else "C0"
        style = "--" if "32³" in name else "-"
        a1.plot(steps, loss, color=colour, ls=style, lw=1,
                label="%s (%d steps, %.0f min)" % (name, steps[-1], minutes[-1]))
        a2.plot(vsteps, vdice, color=colour, ls=style, marker="o", ms=3, label=name)
    a1.set_xlabel("step (batch 1, one fresh phantom per step)")
    a1.set_ylabel("training loss (CE + soft Dice), mean over 10 steps")
    a1.set_yscale("log")
    a1.grid(alpha=0.3)
    a1.legend()
    a2.set_xlabel("step")
    a2.set_ylabel("validation removed-organ Dice (training grid)")
    a2.set_ylim(0, 1)
    a2.grid(alpha=0.3)
    a2.legend()
    fig.suptitle("anatomy train on this 2-core machine: 32³ round (1 thread each, three at once) "
                 "and 64³ round (2 threads, one at a time)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
