"""The ``btp`` command. Thin: each subcommand parses options, calls one stage, prints.

Subcommands live in their own modules (``cli/<name>_cmd.py``); this module only assembles them.
Every ``BtpError`` is printed as one line ``btp: error: ...`` with exit code 2.
"""

from __future__ import annotations

import sys

import typer

from btp.errors import BtpError

app = typer.Typer(
    name="btp",
    help="Beam search sampling -> Testing -> Prioritized experience replay for code LLMs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


_SUBCOMMANDS = ("exec_cmd", "pipeline_cmd", "sample_cmd", "score_cmd", "train_cmd", "eval_cmd", "buffer_cmd", "tasks_cmd", "models_cmd", "report_cmd")


def _register() -> None:
    import importlib

    for name in _SUBCOMMANDS:
        importlib.import_module(f"btp.cli.{name}").register(app)


_register()


def main() -> None:
    try:
        app()
    except BtpError as e:
        print(f"btp: error: {e}", file=sys.stderr)
        sys.exit(2)
