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


# two-sided 95% Student t critical values by degrees of freedom (1..30); 1.96 beyond
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042]


def ci95(values: Sequence[float]) -> float:
    """Half-width of the 95% confidence interval of the mean (Student t); 0 for fewer than 2 values."""
    n = len(values)
    if n < 2:
        return 0.0
    t = _T95[n - 2] if n - 1 <= len(_T95) else 1.96
    return float(t * np.std(values, ddof=1) / np.sqrt(n))


def final_metric(run: RunData, metric: str) -> float | None:
    """The run's held-out ``metric`` after its last trained round (mean over eval datasets)."""
    rows = run.rows("eval")
    last = max((r["round"] for r in rows), default=0)
    final = [r[metric] for r in rows if r["round"] == last and r.get(metric) is not None]
    return float(np.mean(final)) if final and last > 0 else None


def alpha_curve(runs: Sequence[RunData], metric: str = "pass_rate") -> bytes | None:
    """The paper's Fig. 1: final held-out metric against alpha, one line per priority mode that uses
    alpha (mean and 95% t-interval over seeds); modes that ignore alpha are horizontal bands."""
    by_mode: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        value = final_metric(run, metric)
        replay = run.config.get("replay", {})
        if value is not None:
            by_mode[replay.get("mode", "proportional")][float(replay.get("alpha", 0.5))].append(value)
    if sum(len(points) for mode, points in by_mode.items() if mode in ("proportional", "rank")) < 2:
        return None
    plt, fig, ax = _figure()
    for i, (mode, points) in enumerate(sorted(by_mode.items())):
        if mode in ("proportional", "rank"):
            alphas = sorted(points)
            means = [np.mean(points[a]) for a in alphas]
            ax.errorbar(alphas, means, yerr=[ci95(points[a]) for a in alphas], marker="o", capsize=4,
                        label=f"{mode} (n={max(len(v) for v in points.values())} seeds)")
        else:
            values = [v for vs in points.values() for v in vs]
            m, h = float(np.mean(values)), ci95(values)
            line = ax.axhline(m, linestyle="--", color=f"C{i + 2}", label=f"{mode} (alpha unused, n={len(values)})")
            if h:
                ax.axhspan(m - h, m + h, alpha=0.12, color=line.get_color())
    ax.set_xlabel("alpha (weight of P in P2Value)")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(f"{metric.replace('_', ' ')} vs alpha (95% CI over seeds)")
    ax.legend(fontsize=8)
    return _png(plt, fig)
