"""``btp report RUN_DIR [RUN_DIR ...]``: a self-contained HTML page with PNG plots."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_cmd(
        run_dirs: List[Path] = typer.Argument(..., help="run directories; several make a sweep (alpha curve)"),
        out: Optional[Path] = typer.Option(None, help="HTML file (default: RUN_DIR/report/index.html)"),
        png_dir: Optional[Path] = typer.Option(None, help="also write every plot as a PNG file into this folder"),
    ) -> None:
        """Before/after metrics, buffer pass-rate / P2Value / sampling-probability plots, loss, alpha curve."""
        from btp.report.html import render

        target = out or run_dirs[0] / "report" / "index.html"
        print(render(run_dirs, target, png_dir))
