import sqlite3

import numpy as np
import pytest

from btp.errors import BtpError
from btp.replay import Buffer, PriorityConfig, Record
from btp.replay.schema import MIGRATIONS, VERSION
from btp.tasks.types import AssertTest, Task

from replay_stats_helpers import brute_pairs, brute_rank_probs, chi2_ok


def make_tasks(n=3):
    return [Task(f"t{i}", f"def f{i}():", (AssertTest(f"assert f{i}() == {i}"),), entry_point=f"f{i}") for i in range(n)]


def make_records():
    """Records with ties in P2Value (same log-probs and pass rate) and missing log-probs."""
    recs = []
    for i in range(10):
        recs.append(Record(task_id=f"t{i % 3}", program=f"def f():\n    return {i}\n", pass_rate=[0, 0.5, 1.0][i % 3],
                           passed=i % 3, total=2, outcomes=("pass", "fail"), model="m0", round=i % 2,
                           logprob_sum=None if i == 4 else -0.2 * (i % 4), n_tokens=None if i == 4 else 4,
                           beam_rank=i % 3, extra={"k": i}))
    return recs


@pytest.fixture
def buf(tmp_path):
    b = Buffer(tmp_path / "b.sqlite")
    b.add_tasks(make_tasks())
    b.add(make_records())
    yield b
    b.close()


def reference(buf, cfg):
    """The distribution computed straight from the records by the documented formulas."""
    recs = list(buf.records())
    def p_of(r):
        if cfg.p_source == "rank":
            return 1 / (1 + r.beam_rank)
        if r.logprob_sum is None:
            return 0.0
        return np.exp(r.logprob_sum / r.n_tokens if cfg.p_source == "exp_mean" else r.logprob_sum)
    prio = np.array([r.pass_rate if cfg.mode == "pass_only" else cfg.alpha * p_of(r) + (1 - cfg.alpha) * r.pass_rate
                     for r in recs])
    def dist(pr):
        if cfg.mode == "proportional":
            w = pr**cfg.exponent
        elif cfg.mode == "rank":
            return brute_rank_probs(list(pr), cfg.exponent)
        elif cfg.mode == "uniform":
            w = np.ones(pr.size)
        else:
            w = (pr >= 1).astype(float)
        return w / w.sum() if w.sum() > 0 else w
    if not cfg.per_task:
        return np.array([r.id for r in recs]), dist(prio)
    tasks = sorted({r.task_id for r in recs})
    out = np.zeros(len(recs))
    groups = [[k for k, r in enumerate(recs) if r.task_id == t] for t in tasks]
    active = [g for g in groups if dist(prio[g]).sum() > 0]
    for g in active:
        out[g] = dist(prio[g]) / len(active)
    return np.array([r.id for r in recs]), out


CONFIGS = [PriorityConfig(mode=m, per_task=pt, exponent=a, alpha=al, p_source=ps)
           for m in ("proportional", "rank", "uniform", "pass_only") for pt in (False, True)
           for a, al, ps in ((1.0, 0.5, "exp_mean"), (0.6, 0.8, "rank"))]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.mode}-task{c.per_task}-a{c.exponent}-{c.p_source}")
def test_sample_frequencies_match_reference(buf, cfg):
    ids, expected = reference(buf, cfg)
    got_ids, probs = buf.distribution(cfg)
    assert np.array_equal(got_ids, ids) and np.allclose(probs, expected)
    rng = np.random.default_rng(7)
    drawn, dprobs, _ = buf.sample_ids(100_000, cfg, rng)
    assert np.allclose(dprobs, expected[np.searchsorted(ids, drawn)])
    ok, stat, thr = chi2_ok(np.bincount(np.searchsorted(ids, drawn), minlength=ids.size), expected)
    assert ok, (stat, thr)


@pytest.mark.parametrize("mode", ["proportional", "rank"])
def test_without_replacement_follows_successive_law(buf, mode):
    cfg = PriorityConfig(mode=mode, replace=False, per_task=(mode == "rank"))
    ids, p = reference(buf, cfg)
    ref = brute_pairs(p)
    counts: dict = {}
    rng = np.random.default_rng(3)
    for _ in range(8_000):
        d, _, _ = buf.sample_ids(2, cfg, rng)
        k = tuple(np.searchsorted(ids, d))
        counts[k] = counts.get(k, 0) + 1
    keys = sorted(k for k in ref if ref[k] > 0)
    obs = np.array([counts.pop(k, 0) for k in keys])
    assert not counts, f"pairs outside the law: {counts}"
    ok, stat, thr = chi2_ok(obs, np.array([ref[k] for k in keys]))
    assert ok, (stat, thr)


def test_without_replacement_whole_support_and_too_many(buf):
    cfg = PriorityConfig(mode="pass_only", replace=False)
    d, _, _ = buf.sample_ids(3, cfg, np.random.default_rng(0))
    assert sorted(d.tolist()) == [r.id for r in buf.records() if r.pass_rate == 1.0]
    with pytest.raises(BtpError, match="without replacement"):
        buf.sample_ids(4, cfg, np.random.default_rng(0))


def test_is_weights(buf):
    cfg = PriorityConfig(beta=0.7)
    batch = buf.sample(50, cfg, np.random.default_rng(0))
    expect = (len(buf) * batch.probs) ** -0.7
    assert np.allclose(batch.weights, expect / expect.max())
    assert [r.id for r in batch.records] == batch.ids.tolist()


def test_updates_are_seen_without_rebuild(buf):
    cfg = PriorityConfig(mode="rank", p_model="m1", alpha=1.0)
    rng = np.random.default_rng(0)
    buf.sample_ids(1, cfg, rng)  # builds the structure
    struct = buf._structs[("rank", 1.0, 1.0, "exp_mean", "m1", False)]
    buf.set_p([5], [-0.0], [3], "m1")  # record 5 now has P = 1, the unique top
    buf.add([Record("t0", "x = 1", pass_rate=0.0, logprob_sum=-50.0, n_tokens=1)])
    assert buf._structs[("rank", 1.0, 1.0, "exp_mean", "m1", False)] is struct
    ids, expected = reference_with_rescore(buf, cfg)
    got_ids, probs = buf.distribution(cfg)
    assert np.array_equal(got_ids, ids) and np.allclose(probs, expected)
    assert probs[got_ids == 5][0] == probs.max()  # ties with record 1 (also P = 1, pass 0)


def reference_with_rescore(buf, cfg):
    recs = list(buf.records())
    scores = dict(((r, m), (lp, nt)) for r, m, lp, nt in buf.storage.conn.execute(
        "SELECT record_id, model, logprob_sum, n_tokens FROM scores"))
    pr = []
    for r in recs:
        lp, nt = scores.get((r.id, cfg.p_model), (r.logprob_sum, r.n_tokens))
        p = 0.0 if lp is None else np.exp(lp / nt)
        pr.append(cfg.alpha * p + (1 - cfg.alpha) * r.pass_rate)
    return np.array([r.id for r in recs]), brute_rank_probs(pr, cfg.exponent)


def test_round_trip_and_done_markers(tmp_path):
    with Buffer(tmp_path / "b.sqlite") as b:
        b.add_tasks(make_tasks())
        recs = make_records()
        ids = b.add(recs[:3], done=("t0", 0, "m0"))
        assert b.sampled(0, "m0") == {"t0"} and b.sampled(1, "m0") == set()
        assert [r.id for r in recs[:3]] == ids
    with Buffer(tmp_path / "b.sqlite") as b:
        back = list(b.records())
        assert [(r.program, r.pass_rate, r.logprob_sum, r.n_tokens, r.outcomes, r.extra, r.beam_rank) for r in back] == \
            [(r.program, r.pass_rate, r.logprob_sum, r.n_tokens, r.outcomes, r.extra, r.beam_rank) for r in recs[:3]]
        assert b.get_task("t2") == make_tasks()[2]
        assert [r.id for r in b.records(round=0)] == [ids[0], ids[2]]


@pytest.mark.parametrize("bad,msg", [
    (Record("t0", "x", pass_rate=1.5), "pass_rate"),
    (Record("t0", "x", pass_rate=0.5, logprob_sum=float("nan")), "logprob_sum"),
    (Record("nope", "x", pass_rate=0.5), "unknown task"),
])
def test_bad_record_stores_nothing(buf, bad, msg):
    before = len(buf)
    with pytest.raises(BtpError, match=msg):
        buf.add([Record("t0", "fine", pass_rate=0.0), bad], done=("t0", 5, "m"))
    assert len(buf) == before and buf.sampled(5, "m") == set()


def test_set_p_unknown_id_refused(buf):
    with pytest.raises(BtpError, match="no record with id 999"):
        buf.set_p([1, 999], [-1.0, -1.0], [2, 2], "m1")
    assert buf.storage.conn.execute("SELECT count(*) FROM scores").fetchone()[0] == 0


def test_empty_buffer_sample_is_clear_error(tmp_path):
    with Buffer(tmp_path / "e.sqlite") as b, pytest.raises(BtpError, match="empty"):
        b.sample(1, PriorityConfig(), np.random.default_rng(0))


def test_migration_from_v1_keeps_data(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    conn.execute("INSERT INTO tasks VALUES ('t0','p',NULL,'','[]',NULL,'','{}',0)")
    conn.execute("INSERT INTO records (task_id, program, program_hash, pass_rate, passed, total, outcomes_json, model,"
                 " round, count, beam_rank, extra_json, created_at) VALUES ('t0','x','h',1.0,1,1,'[]','m',0,1,0,'{}',0)")
    conn.commit()
    conn.close()
    with Buffer(path) as b:
        assert b.storage.conn.execute("PRAGMA user_version").fetchone()[0] == VERSION
        assert len(b) == 1
        d, _, _ = b.sample_ids(5, PriorityConfig(), np.random.default_rng(0))
        assert set(d.tolist()) == {1}
    with Buffer(path) as b:
        assert b.storage.conn.execute("SELECT count FROM draws").fetchone()[0] == 5


def test_newer_or_foreign_file_refused(tmp_path):
    newer = tmp_path / "new.sqlite"
    sqlite3.connect(newer).execute(f"PRAGMA user_version = {VERSION + 1}")
    with pytest.raises(BtpError, match="newer"):
        Buffer(newer)
    foreign = tmp_path / "f.sqlite"
    c = sqlite3.connect(foreign)
    c.execute("CREATE TABLE x (a)")
    c.commit()
    with pytest.raises(BtpError, match="not a btp buffer"):
        Buffer(foreign)


def test_reader_sees_other_writer(tmp_path):
    path = tmp_path / "b.sqlite"
    with Buffer(path) as w, Buffer(path) as r:
        w.add_tasks(make_tasks())
        w.add(make_records()[:2])
        assert set(r.sample_ids(50, PriorityConfig(mode="uniform"), np.random.default_rng(0))[0]) == {1, 2}
        w.add(make_records()[2:4])
        assert set(r.sample_ids(200, PriorityConfig(mode="uniform"), np.random.default_rng(0))[0]) == {1, 2, 3, 4}
