"""evaluate(): n programs per task through a sampler and the executor, summarized, grouped."""

from btp.evaluation.run import evaluate
from btp.execution.types import Outcome, Result
from btp.sampling.types import Sample
from btp.tasks.types import AssertTest, Task


class ListSampler:
    def __init__(self, programs):
        self.programs = programs

    def sample(self, tasks, k):
        for t in tasks:
            yield [Sample(t.task_id, p, -1.0, 3, "m", p, i) for i, p in enumerate(self.programs[t.task_id][:k])]


class TableExecutor:
    """Passes a program's tests iff its text is 'good' (a fake executor; the real one is tested elsewhere)."""

    def run(self, task, programs):
        return [Result(outcomes=(Outcome.PASS if p == "good" else Outcome.FAIL,) * len(task.tests), seconds=0.0)
                for p in programs]


def test_groups_and_pass_at_k():
    tasks = [Task(f"t{i}", "", (AssertTest("assert 1"),), meta={"difficulty": "easy" if i < 2 else "hard"}) for i in range(3)]
    programs = {"t0": ["good", "bad"], "t1": ["bad", "bad"], "t2": ["bad", "good"]}
    summary, per_task = evaluate(ListSampler(programs), TableExecutor(), tasks, n=2, ks=(1, 2), group_by="difficulty")
    assert summary["n_programs"] == 6 and summary["pass@2"] == 2 / 3 and summary["pass@1"] == 1 / 3
    assert summary["groups"]["easy"]["n_tasks"] == 2 and summary["groups"]["easy"]["pass@2"] == 0.5
    assert summary["groups"]["hard"]["pass@1"] == 0.5
    assert [s.program for s, _ in per_task["t2"]] == ["bad", "good"]
