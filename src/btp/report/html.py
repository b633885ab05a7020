"""A self-contained HTML page: tables and PNG plots embedded as data URIs."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Sequence

import numpy as np

from btp.report import plots
from btp.report.data import read_run


def _img(png: bytes | None, alt: str) -> str:
    if png is None:
        return ""
    data = base64.b64encode(png).decode()
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"><figcaption>{html.escape(alt)}</figcaption></figure>'


def _table(rows: list[dict], cols: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v) -> str:
    return f"{v:.3f}" if isinstance(v, float) else ("" if v is None else str(v))


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def _sweep_table(runs) -> str:
    rows = []
    for run in runs:
        replay = run.config.get("replay", {})
        rows.append({"run": str(run.path), "mode": replay.get("mode"), "alpha": replay.get("alpha"),
                     "seed": run.config.get("seed"), "pass_rate": plots.final_metric(run, "pass_rate"),
                     "strict_accuracy": plots.final_metric(run, "strict_accuracy")})
    return _table(rows, ["run", "mode", "alpha", "seed", "pass_rate", "strict_accuracy"])


def render(run_dirs: Sequence[str | Path], out: Path, png_dir: Path | None = None) -> Path:
    """Write the report page to ``out``; with ``png_dir``, also every plot as a PNG file there."""
    runs = [read_run(p) for p in run_dirs]
    if png_dir is not None:
        png_dir.mkdir(parents=True, exist_ok=True)

    def img(png: bytes | None, alt: str, prefix: str = "") -> str:
        if png is not None and png_dir is not None:
            (png_dir / f"{_slug(prefix + ' ' + alt)}.png").write_bytes(png)
        return _img(png, alt)

    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>btp report</title>",
             "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}figure{display:inline-block;margin:8px}</style>",
             "</head><body><h1>btp report</h1>"]
    if len(runs) > 1:
        parts.append("<h2>Sweep</h2>" + _sweep_table(runs) + img(plots.alpha_curve(runs), "pass rate vs alpha"))
        parts.append(img(plots.alpha_curve(runs, "strict_accuracy"), "strict accuracy vs alpha"))
    for run in runs:
        name = Path(run.path).name
        parts.append(f"<h2>Run {html.escape(str(run.path))}</h2>")
        parts.append(_table(run.rows("eval"), ["round", "dataset", "model", "n_tasks", "pass_rate", "strict_accuracy", "seconds"]))
        stage_rows = [m for m in run.metrics if m.get("stage") in ("sample", "train_done")]
        if stage_rows:
            parts.append("<h3>Stage costs</h3>" + _table(stage_rows, ["stage", "round", "model", "tasks", "programs", "all_pass", "seconds"]))
        parts.append(img(plots.before_after(run), "held-out pass rate and strict accuracy by round", name))
        parts.append(img(plots.histogram(run.pass_rates, "Pass rate of buffer records", "pass rate", bins=np.linspace(0, 1, 11)), "buffer pass-rate histogram", name))
        parts.append(img(plots.histogram(run.p2values, "P2Value of buffer records", "P2Value"), "P2Value distribution", name))
        parts.append(img(plots.histogram(run.probs, "Sampling probability of buffer records", "probability", log=True), "sampling-probability distribution", name))
        parts.append(img(plots.loss_curve(run), "training loss", name))
    parts.append("</body></html>")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts))
    return out
