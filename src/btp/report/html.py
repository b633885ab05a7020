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


def render(run_dirs: Sequence[str | Path], out: Path) -> Path:
    runs = [read_run(p) for p in run_dirs]
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>btp report</title>",
             "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}figure{display:inline-block;margin:8px}</style>",
             "</head><body><h1>btp report</h1>"]
    if len(runs) > 1:
        parts.append("<h2>Sweep</h2>" + _img(plots.alpha_curve(runs), "pass rate vs alpha"))
        parts.append(_img(plots.alpha_curve(runs, "strict_accuracy"), "strict accuracy vs alpha"))
    for run in runs:
        parts.append(f"<h2>Run {html.escape(str(run.path))}</h2>")
        parts.append(_table(run.rows("eval"), ["round", "dataset", "model", "n_tasks", "pass_rate", "strict_accuracy", "seconds"]))
        stage_rows = [m for m in run.metrics if m.get("stage") in ("sample", "train_done")]
        if stage_rows:
            parts.append("<h3>Stage costs</h3>" + _table(stage_rows, ["stage", "round", "model", "tasks", "programs", "all_pass", "seconds"]))
        parts.append(_img(plots.before_after(run), "held-out pass rate and strict accuracy by round"))
        parts.append(_img(plots.histogram(run.pass_rates, "Pass rate of buffer records", "pass rate", bins=np.linspace(0, 1, 11)), "buffer pass-rate histogram"))
        parts.append(_img(plots.histogram(run.p2values, "P2Value of buffer records", "P2Value"), "P2Value distribution"))
        parts.append(_img(plots.histogram(run.probs, "Sampling probability of buffer records", "probability", log=True), "sampling-probability distribution"))
        parts.append(_img(plots.loss_curve(run), "training loss"))
    parts.append("</body></html>")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts))
    return out
