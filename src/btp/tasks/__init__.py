"""Tasks: the normalized task model and loaders per benchmark.

``load_tasks(DatasetSpec(name, path, split, fold, limit))`` reads any registered dataset
(see ``dataset_names()``); ``read_tasks_jsonl`` / ``write_tasks_jsonl`` handle btp's own format.
Importing this package registers every loader module below.
"""

from btp.tasks import apps, codecontests, humaneval, jsonl, mbpp  # noqa: F401  (registration)
from btp.tasks.jsonl import read_tasks_jsonl, write_tasks_jsonl
from btp.tasks.registry import dataset_names, load_tasks
from btp.tasks.spec import DatasetSpec, fold_bucket, parse_fold
from btp.tasks.types import AssertTest, CallTest, StdioTest, Task, Test, test_from_json

__all__ = [
    "AssertTest",
    "CallTest",
    "DatasetSpec",
    "StdioTest",
    "Task",
    "Test",
    "dataset_names",
    "fold_bucket",
    "load_tasks",
    "parse_fold",
    "read_tasks_jsonl",
    "test_from_json",
    "write_tasks_jsonl",
]
