"""Loaded tasks through btp's real sandbox: every reference passes every test (slow: `-m slow`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from btp.tasks import DatasetSpec, load_tasks

DATA = Path("/work/shared/data")
SPECS = [
    DatasetSpec("humaneval"),
    DatasetSpec("apps", path=str(DATA / "apps" / "apps_original_format_train_samples")),
    DatasetSpec("mbpp", path=str(DATA / "mbpp" / "mbpp.jsonl")),
    DatasetSpec("mbpp", path=str(DATA / "mbpp" / "sanitized-mbpp.json")),
]


@pytest.mark.slow
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: Path(s.path).name if s.path else s.name)
def test_references_pass_in_the_real_sandbox(spec):
    if spec.path and not Path(spec.path).exists():
        pytest.skip(f"{spec.path} missing")
    from btp.execution import ExecConfig, Executor

    tasks = load_tasks(spec)
    with Executor(ExecConfig(workers=2, timeout=10.0)) as ex:
        results = {t.task_id: ex.run(t, [t.reference])[0] for t in tasks}
    failing = {tid: [o.value for o in r.outcomes] for tid, r in results.items() if r.passed != r.total or not r.total}
    assert failing == {}
    # and a wrong program is rejected by at least one test of every task
    with Executor(ExecConfig(workers=2, timeout=10.0)) as ex:
        wrong = {t.task_id: ex.run(t, ["def f(*a, **k):\n    return None\n"])[0] for t in tasks[:30]}
    assert all(r.passed < r.total for r in wrong.values())
