"""10^6 records in one buffer: it samples, updates, and its memory stays flat while it does (slow)."""

import resource

import numpy as np
import pytest

from btp.replay import Buffer, PriorityConfig, Record
from btp.tasks.types import AssertTest, Task

N = 1_000_000


@pytest.mark.slow
def test_million_records(tmp_path):
    rng = np.random.default_rng(0)
    with Buffer(tmp_path / "big.sqlite") as buf:
        buf.add_tasks([Task(f"t{i}", "p", (AssertTest("assert True"),)) for i in range(N // 100)])
        for k in range(0, N, 20_000):
            buf.add([Record(f"t{(k + j) // 100}", f"x = {k + j}", pass_rate=float(rng.random()),
                            logprob_sum=-float(rng.random() * 5), n_tokens=10) for j in range(20_000)])
        assert len(buf) == N
        for mode in ("proportional", "rank", "uniform"):
            cfg = PriorityConfig(mode=mode)
            ids, probs, _ = buf.sample_ids(256, cfg, rng)
            assert ids.size == 256 and ids.min() >= 1 and ids.max() <= N and np.all(probs > 0)
        cfg = PriorityConfig()
        rank_m2 = PriorityConfig(mode="rank", p_model="m2")  # set_p(..., "m2") updates its sorted order in place
        rss = []
        for step in range(3000):
            buf.sample_ids(256, cfg, rng)
            buf.sample_ids(256, rank_m2, rng)
            if step % 100 == 0:
                buf.set_p(rng.choice(N, 256, replace=False) + 1, -rng.random(256), np.full(256, 10), "m2")
            if step in (500, 2999):
                rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        assert rss[1] - rss[0] < 50_000, f"peak RSS grew by {rss[1] - rss[0]} KiB while sampling"
        _, prio = buf.priorities(rank_m2)  # computed afresh from the rows
        struct = buf._structs[("rank", 0.5, 1.0, "exp_mean", "m2", False)]
        assert np.array_equal(struct.prio, prio) and np.array_equal(struct.order.keys(), -prio)
        batch = buf.sample(256, PriorityConfig(mode="rank"), rng)
        assert [r.id for r in batch.records] == batch.ids.tolist()
