"""btp eval: several models in one call, n samples per task with pass@k, per-group rows, JSON out."""

import json
import shutil
import subprocess
import sys

from typer.testing import CliRunner

from btp.cli import app
from btp.tasks.types import AssertTest, Task


def test_eval_two_models_pass_at_k_and_groups(tmp_path, tiny_model_dir):
    tasks = [Task(f"t/{i}", f'def f{i}(x):\n    """Return x plus {i}."""\n', (AssertTest(f"assert candidate(1) == {1 + i}"),),
                  entry_point=f"f{i}", source="easy" if i < 2 else "hard", meta={"difficulty": i % 2})
             for i in range(3)]
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(t.to_json()) + "\n" for t in tasks))
    other = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, other)
    out, progs = tmp_path / "summary.json", tmp_path / "programs.jsonl"
    res = CliRunner().invoke(app, ["eval", "--model", str(tiny_model_dir), "--model", str(other), "--tasks", str(path),
                                   "--n", "3", "--k", "1", "--k", "3", "--temperature", "1.0", "--max-new-tokens", "12",
                                   "--group-by", "difficulty", "--json", str(out), "--programs-out", str(progs)])
    assert res.exit_code == 0, res.output
    summary = json.loads(out.read_text())
    assert sorted(summary) == sorted([str(tiny_model_dir), str(other)])
    for s in summary.values():
        assert s["n_tasks"] == 3 and s["n_programs"] == 9
        assert 0.0 <= s["pass@1"] <= s["pass@3"] <= 1.0
        assert sorted(s["groups"]) == ["0", "1"] and s["groups"]["0"]["n_tasks"] == 2
    assert "pass@3" in res.output
    assert len(progs.read_text().splitlines()) == 18


def test_eval_rejects_k_above_n():
    proc = subprocess.run([sys.executable, "-m", "btp", "eval", "--n", "2", "--k", "5"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "btp: error: config eval: needs n >= 1 and every k in ks within 1..n, got n=2, ks=[5]"]


def test_eval_device_and_dtype_reach_the_model_or_fail_in_one_line(tmp_path, tiny_model_dir):
    task = Task("t/0", 'def f(x):\n    """Return x."""\n', (AssertTest("assert candidate(1) == 1"),), entry_point="f")
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(task.to_json()) + "\n")
    base = [sys.executable, "-m", "btp", "eval", "--model", str(tiny_model_dir), "--tasks", str(path),
            "--max-new-tokens", "4"]
    ok = subprocess.run(base + ["--device", "cpu", "--dtype", "bfloat16"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    for flag, value in (("--device", "warp-drive"), ("--dtype", "float7")):
        bad = subprocess.run(base + [flag, value], capture_output=True, text=True)
        lines = bad.stderr.strip().splitlines()
        assert bad.returncode != 0 and len(lines) == 1 and value in lines[0] and lines[0].startswith("btp: error:"), bad.stderr
