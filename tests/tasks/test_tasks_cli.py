"""``btp tasks list`` / ``btp tasks export`` (the sub-app registered on a fresh Typer app, so these
tests do not depend on the other subcommands importing cleanly)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from btp.cli import tasks_cmd
from btp.errors import BtpError
from btp.tasks import DatasetSpec, dataset_names, load_tasks, read_tasks_jsonl


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:  # keep `tasks` a subcommand
        pass

    tasks_cmd.register(app)
    return app


def test_list_prints_registered_names(app):
    result = CliRunner().invoke(app, ["tasks", "list"])
    assert result.exit_code == 0
    assert result.output.split() == dataset_names()


def test_export_writes_selected_tasks(app, tmp_path):
    out = tmp_path / "he.jsonl"
    result = CliRunner().invoke(app, ["tasks", "export", "humaneval", "--fold", "1/2", "--limit", "7", "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = read_tasks_jsonl(out)
    want = load_tasks(DatasetSpec("humaneval", fold="1/2", limit=7))
    assert [t.to_json() for t in written] == [t.to_json() for t in want]
    n_tests = sum(len(t.tests) for t in want)
    assert f"wrote 7 tasks with {n_tests} tests" in result.output


def test_test_groups_option_reaches_the_loader(app, tmp_path):
    result = CliRunner().invoke(app, ["tasks", "export", "mbpp", "--path", str(tmp_path / "none.jsonl"),
                                      "--tests", "base, nope", "--out", str(tmp_path / "o.jsonl")])
    assert isinstance(result.exception, BtpError) and "no test group 'nope'" in str(result.exception)


def test_bad_input_raises_btp_error_and_keeps_existing_output(app, tmp_path):
    out = tmp_path / "keep.jsonl"
    out.write_text("precious\n")
    result = CliRunner().invoke(app, ["tasks", "export", "humaneval", "--fold", "3/2", "--out", str(out)])
    assert isinstance(result.exception, BtpError)
    assert str(result.exception) == "fold '3/2': need n >= 1 and 0 <= i < n"
    assert out.read_text() == "precious\n"
