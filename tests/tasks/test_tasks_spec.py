"""DatasetSpec selection: folds, limits, registry errors, duplicate ids."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from btp.errors import BtpError
from btp.tasks import DatasetSpec, Task, dataset_names, fold_bucket, load_tasks, parse_fold, write_tasks_jsonl
from btp.tasks.spec import select


def make_tasks(n: int) -> list[Task]:
    return [Task(task_id=f"t/{i}", prompt=f"p{i}", tests=()) for i in range(n)]


@pytest.mark.parametrize("text, want", [("0/2", (0, 2)), (" 3 / 5 ", (3, 5)), ("0/1", (0, 1))])
def test_parse_fold(text, want):
    assert parse_fold(text) == want


@pytest.mark.parametrize("text", ["2/2", "1/0", "a/b", "1", "-1/2", "1/2/3"])
def test_bad_folds_are_rejected(text):
    with pytest.raises(BtpError, match="fold"):
        parse_fold(text)


def test_fold_bucket_is_sha256_mod_n():
    for tid in ("HumanEval/0", "mbpp/11", "apps/test/0001"):
        want = int.from_bytes(hashlib.sha256(tid.encode()).digest()[:8], "big") % 7
        assert fold_bucket(tid, 7) == want


def test_fold_bucket_does_not_depend_on_python_hash_seed():
    code = "from btp.tasks import fold_bucket; print([fold_bucket(f't/{i}', 5) for i in range(50)])"
    outs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1
    assert json.loads(outs.pop()) == [fold_bucket(f"t/{i}", 5) for i in range(50)]


def test_folds_partition_the_tasks_in_order():
    tasks = make_tasks(200)
    a, b = select(tasks, "0/2", None), select(tasks, "1/2", None)
    assert {t.task_id for t in a} | {t.task_id for t in b} == {t.task_id for t in tasks}
    assert not {t.task_id for t in a} & {t.task_id for t in b}
    assert 60 < len(a) < 140  # roughly balanced
    assert a == sorted(a, key=lambda t: int(t.task_id.split("/")[1]))  # dataset order kept


def test_limit_applies_after_fold():
    tasks = make_tasks(50)
    fold = select(tasks, "1/3", None)
    assert select(tasks, "1/3", 4) == fold[:4]
    assert select(tasks, None, 0) == []
    with pytest.raises(BtpError, match="limit"):
        select(tasks, None, -1)


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(BtpError) as e:
        load_tasks(DatasetSpec("nope"))
    for name in ("humaneval", "mbpp", "apps", "codecontests", "jsonl"):
        assert name in str(e.value)
        assert name in dataset_names()


def test_duplicate_task_ids_are_rejected(tmp_path):
    path = tmp_path / "dup.jsonl"
    write_tasks_jsonl([Task("same", "a", ()), Task("same", "b", ())], path)
    with pytest.raises(BtpError, match="'same' occurs twice"):
        load_tasks(DatasetSpec("jsonl", path=str(path)))


def test_hub_alias_without_datasets_package_is_a_clear_error():
    # the hub path cannot be exercised offline; only its failure message
    try:
        import datasets  # noqa: F401
    except ImportError:
        with pytest.raises(BtpError, match="needs the 'datasets' package"):
            load_tasks(DatasetSpec("google-research-datasets/mbpp"))
    else:
        pytest.skip("the 'datasets' package is installed; its offline behaviour is not tested here")
