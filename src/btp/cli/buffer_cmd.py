"""``btp buffer stats|sample|export|import``: inspect, sample from, and move replay buffers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from btp.errors import BtpError


def _cfg(alpha: float, mode: str, exponent: float, per_task: bool, p_source: str, p_model: str | None, beta: float = 0.0,
         replace: bool = True):
    from btp.replay import PriorityConfig

    return PriorityConfig(alpha=alpha, mode=mode, exponent=exponent, per_task=per_task, p_source=p_source,
                          p_model=p_model, beta=beta, replace=replace)


def _open(path: Path, readonly: bool = True):
    from btp.replay import Buffer

    if not path.exists():
        raise BtpError(f"{path}: no such buffer file")
    return Buffer(path, readonly=readonly)


def _hist_table(title: str, hist) -> Table:
    counts, edges = hist
    t = Table(title=title)
    t.add_column("bin")
    t.add_column("records", justify="right")
    for c, lo, hi in zip(counts, edges[:-1], edges[1:]):
        t.add_row(f"[{lo:.1f}, {hi:.1f}{']' if hi == edges[-1] else ')'}", str(int(c)))
    return t


def _counts_table(title: str, rows, key: str) -> Table:
    t = Table(title=title)
    t.add_column(key)
    t.add_column("records", justify="right")
    for k, c in rows:
        t.add_row(str(k), str(c))
    return t


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Inspect and move replay buffers (SQLite files).", no_args_is_help=True)
    ALPHA = typer.Option(0.5, help="weight of P in P2Value")
    MODE = typer.Option("proportional", help="proportional | rank | uniform | pass_only")
    EXP = typer.Option(1.0, help="exponent a of p_i^a")
    PER_TASK = typer.Option(False, help="draw a task first, then a record in it")
    PSRC = typer.Option("exp_mean", help="exp_mean | sum | rank")
    PMODEL = typer.Option(None, help="use log-probs re-scored under this model")

    @sub.command("stats")
    def stats(path: Path, alpha: float = ALPHA, mode: str = MODE, exponent: float = EXP, per_task: bool = PER_TASK,
              p_source: str = PSRC, p_model: str = PMODEL, top: int = typer.Option(20, help="tasks listed")) -> None:
        """Counts by task/round/model, pass-rate and priority histograms, ESS, tasks never drawn."""
        from btp.replay.stats import compute

        cfg = _cfg(alpha, mode, exponent, per_task, p_source, p_model)
        with _open(path) as buf:
            s = compute(buf, cfg)
        con = Console()
        con.print(f"[bold]{path}[/]: {s.records} records, {s.tasks} tasks, {s.draws} draws recorded, "
                  f"{s.missing_logprobs} records without log-probs")
        con.print(f"effective sample size ({mode}): {s.ess:.1f} of {s.records}")
        con.print(_counts_table("records by round", s.by_round, "round"))
        con.print(_counts_table("records by source model", s.by_model, "model"))
        con.print(_counts_table(f"records by task (first {top})", s.by_task[:top], "task"))
        con.print(_hist_table("pass rate", s.pass_hist))
        con.print(_hist_table("priority (P2Value; pass rate for pass_only)", s.priority_hist))
        never = s.tasks_never_drawn
        con.print(f"tasks never drawn: {len(never)}" + (f" ({', '.join(never[:top])}{' ...' if len(never) > top else ''})"
                                                        if never else ""))

    @sub.command("sample")
    def sample(path: Path, n: int = typer.Option(8, help="batch size"), alpha: float = ALPHA, mode: str = MODE,
               exponent: float = EXP, per_task: bool = PER_TASK, p_source: str = PSRC, p_model: str = PMODEL,
               beta: float = typer.Option(0.0, help="IS exponent"), replace: bool = typer.Option(True),
               seed: int = typer.Option(0)) -> None:
        """Draw a batch (a preview: draw counters are not changed) and print it."""
        cfg = _cfg(alpha, mode, exponent, per_task, p_source, p_model, beta, replace)
        with _open(path) as buf:
            batch = buf.sample(n, cfg, np.random.default_rng(seed))
        t = Table(title=f"{n} drawn ({mode})")
        for c in ("id", "task", "pass", "P", "prob", "weight", "program"):
            t.add_column(c)
        for r, p, w in zip(batch.records, batch.probs, batch.weights):
            first = r.program.strip().splitlines()[0][:50] if r.program.strip() else ""
            pr = "-" if r.prob is None else f"{r.prob:.3f}"
            t.add_row(str(r.id), r.task_id, f"{r.pass_rate:.2f}", pr, f"{p:.2e}", f"{w:.3f}", first)
        Console().print(t)

    @sub.command("export")
    def export_cmd(path: Path, out: Path) -> None:
        """Write the buffer to OUT (.jsonl or .parquet)."""
        from btp.replay.io import export

        with _open(path) as buf:
            k = export(buf.storage, out)
        Console().print(f"wrote {k} objects to {out}")

    @sub.command("import")
    def import_cmd(src: Path, path: Path) -> None:
        """Load an export SRC (.jsonl or .parquet) into buffer PATH (created if missing)."""
        from btp.replay import Buffer
        from btp.replay.io import import_

        with Buffer(path) as buf:
            k = import_(buf.storage, src)
        Console().print(f"imported {k} records into {path}")

    app.add_typer(sub, name="buffer")
