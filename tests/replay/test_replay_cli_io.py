import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from btp.errors import BtpError
from btp.replay import Buffer, PriorityConfig, Record
from btp.replay.io import export, import_
from btp.replay.stats import compute, effective_sample_size
from btp.tasks.types import AssertTest, StdioTest, Task


def fill(path):
    b = Buffer(path)
    b.add_tasks([Task("a", "def f():", (AssertTest("assert f() == 1"),), entry_point="f", meta={"x": [1]}),
                 Task("b", "read n", (StdioTest("1\n", "2\n"),), source="apps"),
                 Task("c", "never sampled", ())])
    b.add([Record("a", "def f():\n    return 1\n", 1.0, 1, 1, ("pass",), "m0", 0, -1.5, 6, beam_rank=0, extra={"e": 1}),
           Record("a", "def f():\n    return 2\n", 0.0, 0, 1, ("fail",), "m0", 0, None, None, beam_rank=1),
           Record("b", "print(2)", 1.0, 1, 1, ("pass",), "m1", 1, -0.3, 3, count=2)], done=("a", 0, "m0"))
    b.set_p([1], [-0.5], [6], "m1")
    return b


def dump(b):
    conn = b.storage.conn
    return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in ("tasks", "records", "done")} | {
        "scores": conn.execute("SELECT record_id, model, logprob_sum, n_tokens FROM scores ORDER BY 1, 2").fetchall()}


def strip_times(d):
    d = dict(d)
    d["tasks"] = [r[:-1] for r in d["tasks"]]
    d["done"] = [r[:-1] for r in d["done"]]
    return d


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_export_import_lossless(tmp_path, suffix):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    src = fill(tmp_path / "a.sqlite")
    export(src.storage, tmp_path / f"x{suffix}")
    with Buffer(tmp_path / "b.sqlite") as dst:
        assert import_(dst.storage, tmp_path / f"x{suffix}") == 3
        assert strip_times(dump(dst)) == strip_times(dump(src))
        assert dst.get_task("a") == src.get_task("a") and dst.get_task("a").meta == {"x": [1]}
        cfg = PriorityConfig(p_model="m1")
        assert np.allclose(dst.distribution(cfg)[1], src.distribution(cfg)[1])
    src.close()


def test_import_bad_file_loses_nothing(tmp_path):
    b = fill(tmp_path / "a.sqlite")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"kind": "record", "id": 1, "task_id": "zzz", "program": "x", "pass_rate": 1.0,
                               "passed": 1, "total": 1, "outcomes": [], "model": "", "round": 0, "logprob_sum": None,
                               "n_tokens": None, "count": 1, "beam_rank": 0}) + "\n")
    with pytest.raises(BtpError, match="zzz"):
        import_(b.storage, bad)
    bad.write_text("{not json\n")
    with pytest.raises(BtpError, match="not JSON"):
        import_(b.storage, bad)
    assert len(b) == 3
    b.close()


def test_stats_numbers(tmp_path):
    b = fill(tmp_path / "a.sqlite")
    b.sample(10, PriorityConfig(mode="pass_only"), np.random.default_rng(0))  # draws records 1 and 3 only
    s = compute(b, PriorityConfig(mode="uniform"))
    assert (s.records, s.tasks, s.missing_logprobs, s.draws) == (3, 2, 1, 10)
    assert s.by_task == [("a", 2), ("b", 1)] and s.by_round == [(0, 2), (1, 1)]
    assert s.tasks_never_drawn == [] and np.isclose(s.ess, 3.0)
    assert s.pass_hist[0][0] == 1 and s.pass_hist[0][-1] == 2
    assert effective_sample_size(np.array([0.5, 0.5, 0.0])) == 2.0
    b.close()
    with Buffer(tmp_path / "a.sqlite", readonly=True) as r:
        assert compute(r, PriorityConfig()).draws == 10


def test_cli_commands(tmp_path):
    from btp.cli import app

    fill(tmp_path / "a.sqlite").close()
    run = CliRunner().invoke
    res = run(app, ["buffer", "stats", str(tmp_path / "a.sqlite"), "--mode", "rank"])
    assert res.exit_code == 0, res.output
    assert "3 records, 2 tasks" in res.output and "tasks never drawn: 2" in res.output
    res = run(app, ["buffer", "sample", str(tmp_path / "a.sqlite"), "--n", "4", "--mode", "pass_only"])
    assert res.exit_code == 0 and "print(2)" in res.output and "return 2" not in res.output
    res = run(app, ["buffer", "export", str(tmp_path / "a.sqlite"), str(tmp_path / "e.jsonl")])
    assert res.exit_code == 0 and len((tmp_path / "e.jsonl").read_text().splitlines()) == 7
    res = run(app, ["buffer", "import", str(tmp_path / "e.jsonl"), str(tmp_path / "c.sqlite")])
    assert res.exit_code == 0 and "imported 3 records" in res.output


def test_cli_error_is_one_line(tmp_path):
    p = subprocess.run([sys.executable, "-m", "btp", "buffer", "stats", str(tmp_path / "missing.sqlite")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.strip() == f"btp: error: {tmp_path / 'missing.sqlite'}: no such buffer file"
