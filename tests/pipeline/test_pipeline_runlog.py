import pytest

from btp import runlog
from btp.errors import BtpError


def test_torn_last_line_is_dropped_and_the_next_row_starts_fresh(tmp_path):
    path = tmp_path / "metrics.jsonl"
    runlog.append(path, {"stage": "eval", "round": 0})
    with open(path, "a") as f:
        f.write('{"stage": "tra')  # a writer killed mid-append
    assert runlog.read(path) == [{"stage": "eval", "round": 0}]
    runlog.repair(path)
    runlog.append(path, {"stage": "eval", "round": 1})
    assert runlog.read(path) == [{"stage": "eval", "round": 0}, {"stage": "eval", "round": 1}]


def test_a_bad_line_before_the_end_is_named(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"a": 1}\nnot json\n{"b": 2}\n')
    with pytest.raises(BtpError, match=r"metrics.jsonl:2: not JSON"):
        runlog.read(path)


def test_missing_file_reads_as_empty_and_repair_is_a_no_op(tmp_path):
    path = tmp_path / "metrics.jsonl"
    runlog.repair(path)
    assert runlog.read(path) == [] and not path.exists()
