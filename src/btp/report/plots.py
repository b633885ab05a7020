"""One function per figure; each returns PNG bytes (matplotlib, Agg backend)."""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Sequence

import numpy as np

from btp.report.data import RunData


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    return plt, fig, ax


def _png(plt, fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def before_after(run: RunData) -> bytes | None:
    """Pass rate and strict accuracy per dataset, one bar per evaluated round."""
    rows = run.rows("eval")
    if not rows:
        return None
    plt, fig, ax = _figure()
    datasets = sorted({r["dataset"] for r in rows})
    rounds = sorted({r["round"] for r in rows})
    width = 0.8 / (2 * len(rounds))
    for j, rnd in enumerate(rounds):
        for k, metric in enumerate(("pass_rate", "strict_accuracy")):
            values = [next((r[metric] for r in rows if r["dataset"] == d and r["round"] == rnd), np.nan) for d in datasets]
            x = np.arange(len(datasets)) + (2 * j + k) * width
            ax.bar(x, values, width, label=f"round {rnd} {metric.replace('_', ' ')}")
    ax.set_xticks(np.arange(len(datasets)) + 0.4 - width / 2, datasets, fontsize=8)
    ax.set_ylabel("fraction")
    ax.set_title("Held-out results by round (round 0 = before training)")
    ax.legend(fontsize=7)
    return _png(plt, fig)


def histogram(values: np.ndarray, title: str, xlabel: str, *, log: bool = False, bins=None) -> bytes | None:
    if len(values) == 0:
        return None
    plt, fig, ax = _figure()
    ax.hist(values, bins=bins if bins is not None else min(30, max(5, len(values) // 5)), log=log, edgecolor="white")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("records")
    return _png(plt, fig)


def loss_curve(run: RunData) -> bytes | None:
    rows = run.rows("train")
    if not rows:
        return None
    plt, fig, ax = _figure()
    by_round = defaultdict(list)
    for r in rows:
        by_round[r.get("round", 1)].append((r["step"], r["loss"]))
    for rnd, pts in sorted(by_round.items()):
        steps, losses = zip(*pts)
        ax.plot(steps, losses, label=f"round {rnd}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (program tokens)")
    ax.set_title("Training loss")
    ax.legend(fontsize=7)
    return _png(plt, fig)


def alpha_curve(runs: Sequence[RunData], metric: str = "pass_rate") -> bytes | None:
    """The paper's Fig. 1: final held-out metric against alpha, mean and 95% CI over seeds."""
    points = defaultdict(list)
    for run in runs:
        final = [r for r in run.rows("eval") if r["round"] == max((x["round"] for x in run.rows("eval")), default=-1)]
        alpha = run.config.get("replay", {}).get("alpha")
        if final and alpha is not None and final[0]["round"] > 0:
            points[float(alpha)].append(float(np.mean([r[metric] for r in final])))
    if len(points) < 2:
        return None
    plt, fig, ax = _figure()
    alphas = sorted(points)
    means = [np.mean(points[a]) for a in alphas]
    ci = [1.96 * np.std(points[a], ddof=1) / np.sqrt(len(points[a])) if len(points[a]) > 1 else 0.0 for a in alphas]
    ax.errorbar(alphas, means, yerr=ci, marker="o", capsize=4)
    ax.set_xlabel("alpha (weight of P in P2Value)")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(f"{metric.replace('_', ' ')} vs alpha (95% CI over seeds)")
    return _png(plt, fig)
