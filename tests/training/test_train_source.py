"""The pipeline's BufferSource: baselines (uniform, pass-only, all), batch stats, resumable state."""

import numpy as np
import pytest
from transformers import AutoTokenizer

from btp.errors import BtpError
from btp.pipeline import BufferSource
from btp.replay import Buffer, PriorityConfig, Record, p2value
from btp.tasks.types import AssertTest, Task


@pytest.fixture
def buf(tmp_path):
    b = Buffer(tmp_path / "b.sqlite")
    b.add_tasks([Task(f"t{i}", f"Write f{i}.", (AssertTest("assert True"),)) for i in range(5)])
    b.add([Record(task_id=f"t{i}", program=f"def f{i}():\n    return {j}\n", pass_rate=j / 3, passed=j, total=3,
                  logprob_sum=-0.4 * j - 0.1 * i, n_tokens=4) for i in range(5) for j in range(4)])
    yield b
    b.close()


@pytest.fixture(scope="module")
def tok(smol_dir):
    return AutoTokenizer.from_pretrained(smol_dir)


def draw(source, n, times):
    """Ids drawn by ``times`` calls of ``source.next(n)``, in order."""
    ids = []
    for _ in range(times):
        source.next(n)
        ids += source.last_batch.ids.tolist()
    return ids


def test_all_mode_visits_every_record_once_per_epoch_split_across_ranks(buf, tok):
    ids = sorted(r.id for r in buf.records())
    ranks = [BufferSource(buf, PriorityConfig(), tok, 11, data="all", rank=r, world=2) for r in range(2)]
    seen = [draw(s, 2, 5) for s in ranks]  # 10 ids per rank per epoch, batches of 2
    assert sorted(seen[0] + seen[1]) == ids  # disjoint shards covering the buffer
    first = BufferSource(buf, PriorityConfig(), tok, 11, data="all")
    epoch1, epoch2 = draw(first, 5, 4), draw(first, 5, 4)
    assert sorted(epoch1) == ids and sorted(epoch2) == ids and epoch1 != epoch2


def test_pass_only_draws_only_passing_programs_and_stats_match_records(buf, tok):
    s = BufferSource(buf, PriorityConfig(mode="pass_only", alpha=0.3), tok, 0)
    for _ in range(10):
        examples = s.next(4)
        assert all(r.pass_rate == 1.0 for r in s.last_batch.records)
        assert all("return 3" in ex.completion for ex in examples)
        recs = s.last_batch.records
        expect = np.mean([p2value(np.exp(r.logprob_sum / r.n_tokens), r.pass_rate, 0.3) for r in recs])
        stats = s.stats()
        assert stats["batch_pass_rate"] == 1.0
        assert stats["batch_p2value"] == pytest.approx(expect)


def test_uniform_mode_draws_every_record_alike(buf, tok):
    s = BufferSource(buf, PriorityConfig(mode="uniform"), tok, 1)
    counts = {}
    for _ in range(500):
        s.next(8)
        for i in s.last_batch.ids.tolist():
            counts[i] = counts.get(i, 0) + 1
    assert len(counts) == 20
    # 4000 draws over 20 records: each ~200 (sd ~14); proportional mode would favour passing programs
    assert min(counts.values()) > 140 and max(counts.values()) < 260


@pytest.mark.parametrize("data", ["replay", "all"])
def test_state_dict_resumes_the_same_draws(buf, tok, data):
    cfg = PriorityConfig(mode="proportional", beta=0.4)
    a = BufferSource(buf, cfg, tok, 5, data=data)
    draw(a, 7, 3)
    state = a.state_dict()
    expected = draw(a, 7, 4)
    b = BufferSource(buf, cfg, tok, 5, data=data)
    b.load_state_dict(state)
    assert draw(b, 7, 4) == expected
    fresh = BufferSource(buf, cfg, tok, 5, data=data)
    assert draw(fresh, 7, 4) != expected


def test_empty_buffer_is_a_clear_error(tmp_path, tok):
    with Buffer(tmp_path / "e.sqlite") as empty, pytest.raises(BtpError, match="is empty"):
        BufferSource(empty, PriorityConfig(), tok, 0)


def test_completion_is_the_answer_without_the_prompt_header(tmp_path, tok):
    prompt = 'from typing import List\n\n\ndef f(xs: List[int]) -> int:\n    """Sum."""\n'
    with Buffer(tmp_path / "h.sqlite") as b:
        b.add_tasks([Task("h/0", prompt, (AssertTest("assert candidate([1]) == 1"),), entry_point="f")])
        b.add([Record(task_id="h/0", program="from typing import List\n\n\ndef f(xs):\n    return sum(xs)\n",
                      pass_rate=1.0, passed=1, total=1, logprob_sum=-1.0, n_tokens=4)])
        [ex] = BufferSource(b, PriorityConfig(), tok, 0).next(1)
    assert ex.completion == "```python\ndef f(xs):\n    return sum(xs)\n```"
    assert "def f(xs: List[int]) -> int:" in ex.prompt
