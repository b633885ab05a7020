"""Assert tests run in the judge process: what legitimate programs and tests still get right.

(Programs that try to fool the judge are in cases_exec.REWARD_HACKS.)
"""

from __future__ import annotations

from btp.execution import Outcome
from btp.tasks.types import AssertTest, Task

P, F, E = Outcome.PASS, Outcome.FAIL, Outcome.ERROR


def atask(*codes, entry="f", setup=""):
    return Task("j", "", tuple(AssertTest(c) for c in codes), entry_point=entry, setup=setup)


def outcomes(ex, task, program):
    return ex.run(task, [program])[0].outcomes


def test_value_types_round_trip_with_python_equality(ex):
    task = atask("assert candidate() == (1, [2.5, 'x'], {3: {4}}, frozenset({5}), b'y', None, True)",
                 "assert type(candidate()[0]) is int and type(candidate()[1][0]) is float",
                 "assert candidate() != [1, [2.5, 'x'], {3: {4}}, frozenset({5}), b'y', None, True]")
    assert outcomes(ex, task, "def f(): return (1, [2.5, 'x'], {3: {4}}, frozenset({5}), b'y', None, True)") == (P, P, P)


def test_numpy_collections_generators_and_namedtuples(ex):
    task = atask("assert candidate(3) == 6", "assert list(candidate(0)) == [0, 1]", "assert candidate(1) == (1, 2)",
                 "import collections\nassert candidate(2) == collections.Counter('aab')")
    prog = ("import numpy as np, collections\nP = collections.namedtuple('P', 'a b')\n"
            "def f(x):\n    if x == 3: return np.int64(6)\n    if x == 0: return (i for i in range(2))\n"
            "    if x == 1: return P(1, 2)\n    return collections.Counter('aab')\n")
    assert outcomes(ex, task, prog) == (P, P, P, P)


def test_in_place_changes_to_arguments_are_seen_by_the_test(ex):
    task = atask("xs = [3, 1, 2]\ncandidate(xs)\nassert xs == [1, 2, 3]", "d = {}\ncandidate(d)\nassert d == {'k': 1}")
    prog = "def f(x):\n    if isinstance(x, list): x.sort()\n    else: x['k'] = 1\n"
    assert outcomes(ex, task, prog) == (P, P)


def test_program_objects_stay_remote(ex):
    """MBPP 367-style: the test builds a tree with the program's class, attribute by attribute."""
    test = ("root = Node(1)\nroot.left = Node(2)\nroot.left.left = Node(3)\n"
            "assert candidate(root) == 3\nassert root.left.val == 2\nassert len(candidate.__name__) == 1")
    prog = ("class Node:\n    def __init__(self, v):\n        self.val, self.left, self.right = v, None, None\n"
            "def f(n):\n    return 0 if n is None else 1 + max(f(n.left), f(n.right))\n")
    assert outcomes(ex, atask(test), prog) == (P,)


def test_program_helpers_and_exceptions(ex):
    task = atask("assert candidate(helper(2)) == 5",
                 "try:\n    candidate(-1)\nexcept ValueError:\n    pass\nelse:\n    assert False",
                 "assert candidate(0) == 1")
    prog = "def helper(x): return x * 2\ndef f(x):\n    if x < 0: raise ValueError(x)\n    if x == 0: assert False\n    return x + 1\n"
    assert outcomes(ex, task, prog) == (P, P, F)


def test_entry_point_named_like_a_builtin(ex):
    """MBPP 126 defines ``sum``; its tests call ``sum(10, 15)``."""
    task = atask("assert sum(10, 15) == 6", "assert len([1]) == 1", entry="sum")
    prog = "def sum(a, b):\n    return 6\ndef len(x):\n    return 99\n"
    assert outcomes(ex, task, prog) == (P, P)


def test_test_passing_a_function_runs_in_the_program_interpreter(ex):
    """The handed-back test's code reaches the program from the judge (the zygote holds it
    sealed): each test runs as written, in order, also one larger than a pipe's buffer."""
    big = "#" + "x" * 200_000 + "\nassert candidate(lambda x: x * 3, 4) == 12"
    task = atask("assert candidate(lambda x: x * 3, 2) == 6", "assert candidate(abs, -2) == 2",
                 "assert candidate(lambda x: x * 3, 2) == 7", big, "assert candidate(lambda x: x, 1) == 2")
    [result] = ex.run(task, ["def f(g, x): return g(x)"])
    assert result.outcomes == (P, P, F, P, F)


def test_decoder_builds_only_builtin_objects_and_rejects_anything_else():
    import json

    import pytest

    from btp.execution.values import BadValue, Unencodable, decode, encode

    class Eq(list):
        def __eq__(self, other):
            return True

    value = {"a": (1, 2.0, float("inf")), 3: [Eq([1]), b"x", {frozenset({1})}]}
    back = decode(json.loads(json.dumps(encode(value))))
    assert back == value and type(back[3][0]) is list and back[3][0] != [2]
    for bad in ({"x": 1}, {"ref": 0}, {"t": 1}, {"nd": ["O", [1], [1]]}, {"d": [[[1], 2]]}, {"a": 1, "b": 2}):
        with pytest.raises(BadValue):
            decode(bad)
    with pytest.raises(Unencodable):
        encode(object())
    assert encode(object(), ref=lambda obj: 7) == {"ref": 7}


def test_the_judge_recovers_after_a_looping_test_or_program(ex):
    """The judge lives across programs: a test that loops in the judge, or a program that loops
    inside a call the judge made, must not disturb the next program's verdicts."""
    looping_test = atask("while True:\n    pass", "assert candidate(1) == 2")
    # the judge's own CPU limit ends the looping test; the next test of the same program still runs
    assert outcomes(ex, looping_test, "def f(x): return x + 1") == (Outcome.TIMEOUT, P)
    looping_call = atask("assert candidate(1) == 2", "assert candidate(2) == 3")
    assert outcomes(ex, looping_call, "def f(x):\n    while True: pass") == (Outcome.TIMEOUT, Outcome.TIMEOUT)
    ok = atask("assert candidate(1) == 2", "xs = [2, 1]\ncandidate(xs)\nassert xs == [1, 2]")
    prog = "def f(x):\n    if isinstance(x, list): x.sort()\n    return 2 if x == 1 else None\n"
    for _ in range(3):
        assert outcomes(ex, ok, prog + f"# {_}") == (P, P)


def test_programs_cannot_see_the_judge(ex):
    """The judge runs outside the programs' PID namespace: not in their /proc, not signalable."""
    task = atask("assert candidate() == 'hidden'")
    prog = ("import os\ndef f():\n    names = set()\n    for p in os.listdir('/proc'):\n"
            "        if p.isdigit():\n            try: names.add(open(f'/proc/{p}/cmdline', 'rb').read())\n"
            "            except OSError: pass\n"
            "    return 'hidden' if not any(b'judge' in n for n in names) and len(names) <= 3 else repr(names)\n")
    assert outcomes(ex, task, prog) == (P,)


def test_programs_that_tamper_with_the_judges_pipes_fail_and_leave_them_clean():
    """The judge talks to each program process on pipes that outlive it (fds 5 and 6 there): a
    program that forges replies, leaves half a frame, or shuts its end while the judge is sending
    a large argument must not pass, hang the worker, or disturb the next program on that worker."""
    from btp.execution import ExecConfig, Executor

    task = atask("assert candidate(2) == 3", "assert candidate(list(range(300000))) == 300000")
    forged = b'\x00\x00\x00\x0b["x","pass"]'
    programs = {
        "forged replies": f"import os\nfor _ in range(100): os.write(6, {forged!r})\n",
        "half a frame": "import os\nos.write(6, b'\\x00\\x00\\x10\\x00[1,')\n",
        "shut call pipe": "import os\nos.close(5)\n",
        "exits mid-call": "import os\ndef g(x):\n    if isinstance(x, list): os._exit(0)\n",
    }
    body = "def f(x):\n    return len(x) if isinstance(x, list) else x + 1\n"
    with Executor(ExecConfig(workers=1, timeout=1.0, wall_factor=1.0, cache=False)) as ex1:
        for name, prefix in programs.items():
            prog = prefix + body if name != "exits mid-call" else prefix + body.replace("def f", "def h") + \
                "def f(x):\n    g(x)\n    return h(x)\n"
            got = ex1.run(task, [prog])[0].outcomes
            assert P not in got[1:] and got != (P, P), (name, got)
            assert ex1.run(task, [body + f"# after {name}"])[0].outcomes == (P, P), name


def test_a_huge_return_value_neither_passes_nor_stops_the_worker():
    from btp.execution import ExecConfig, Executor

    task = atask("assert len(candidate()) == 3 * 10 ** 6")
    prog = "def f():\n    return [('%030d' % i) for i in range(3 * 10 ** 6)]\n"  # > 128 MiB
    with Executor(ExecConfig(workers=1, memory_mb=128, timeout=20.0)) as ex1:
        got = ex1.run(task, [prog])[0].outcomes
        assert got[0] in (Outcome.MEMORY, Outcome.ERROR), got
        assert ex1.run(atask("assert candidate() == 1"), ["def f(): return 1"])[0].outcomes == (P,)


def test_the_judge_may_grow_by_twice_the_programs_limit():
    """What the judge decodes from a program is bounded: before each program its data segment may
    grow by 2 x memory_mb from where it is (measured through its /proc status fd)."""
    import os

    from btp.execution import judge

    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            fd = os.open("/proc/self/status", os.O_RDONLY)
            os.dup2(fd, judge.STATUS_FD)
            judge._limit_memory(64)
            small = bytearray(100 * 1024 ** 2)  # within 2 x 64 MiB
            del small
            try:
                bytearray(300 * 1024 ** 2)
            except MemoryError:
                code = 0
        finally:
            os._exit(code)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def test_stdlib_names_are_the_real_modules_and_the_program_picks_no_imports(monkeypatch):
    """A test's ``sys`` is the standard library's even when the program defines ``class sys``
    (a fake ``getsizeof`` passed MBPP/596); a module the program names is bound only if the judge
    already has it, so a program cannot make the long-lived judge import anything."""
    import sys

    from btp.execution import judge

    monkeypatch.setattr(judge, "PRELOADED", frozenset(sys.modules) - {"json.decoder"})
    ns: dict = {}
    names = {"sys": "f", "heapq": "m:heapq", "foo": "m:antigravity", "bar": "m:json", "helper": "f",
             "baz": "m:json.decoder"}  # loaded now, but not when the judge started
    judge._bind(ns, names, None, {"sys", "heapq", "foo", "bar", "helper", "baz"}, "f")
    assert ns["sys"] is sys and ns["heapq"].__name__ == "heapq" and ns["bar"] is sys.modules["json"]
    assert "foo" not in ns and "antigravity" not in sys.modules and "baz" not in ns
    assert type(ns["helper"]) is judge.Remote


def test_a_program_cannot_stand_in_for_a_module_the_test_uses(ex):
    task = atask("assert candidate((1, 2)) == sys.getsizeof((1, 2))")
    fake = "class sys:\n    getsizeof = staticmethod(lambda x: 0)\ndef f(t): return 0\n"
    real = "import sys\ndef f(t): return sys.getsizeof(t)\n"
    assert outcomes(ex, task, fake) == (F,)
    assert outcomes(ex, task, real) == (P,)


def test_values_keep_what_in_process_tests_rely_on(ex):
    """Things a correct program returns that the test checks the way it would in one process."""
    task = atask("assert candidate('nt').a == 1 and candidate('nt') == (1, 2)",
                 "assert candidate('range') == range(3)",
                 "assert candidate('keys') == {'x', 'y'} and list(candidate('items')) == [('x', 1), ('y', 2)]",
                 "import math\nassert math.copysign(1, candidate('negzero')) == -1",
                 "assert candidate('big') == 10 ** 5000",
                 "assert candidate('npbool') is not True and candidate('npbool') == True",
                 "from dataclasses import dataclass\nassert candidate('dc') == 3")
    prog = ("import collections, numpy as np\nfrom dataclasses import dataclass\n"
            "P = collections.namedtuple('P', 'a b')\nclass F(float): pass\n"
            "@dataclass\nclass Pt:\n    x: int\n    y: int = 2\n"
            "def f(k):\n    d = {'x': 1, 'y': 2}\n"
            "    return {'nt': P(1, 2), 'range': range(3), 'keys': d.keys(), 'items': d.items(),\n"
            "            'negzero': F(-0.0), 'big': 10 ** 5000, 'npbool': np.bool_(True),\n"
            "            'dc': Pt(1).x + Pt(1).y}[k]\n")
    assert outcomes(ex, task, prog) == (P,) * 7


def test_annotations_are_evaluated_as_in_a_plain_module(ex):
    """Programs are not compiled under the sandbox's own ``from __future__ import annotations``."""
    task = atask("assert candidate() is int")
    prog = "def g(x: int): pass\ndef f(): return g.__annotations__['x']\n"
    assert outcomes(ex, task, prog) == (P,)


def test_same_program_object_is_the_same_remote(ex):
    task = atask("n = Node(1)\nassert candidate(n) is n and candidate(n) == n",
                 "assert candidate(None) == Color.RED")
    prog = ("import enum\nclass Color(enum.Enum):\n    RED = 1\n"
            "class Node:\n    def __init__(self, v): self.v = v\n"
            "def f(n): return n if n is not None else Color.RED\n")
    assert outcomes(ex, task, prog) == (P, P)


def test_exceptions_keep_their_builtin_base_and_message(ex):
    task = atask("try:\n    candidate(-1)\nexcept ValueError as e:\n    assert str(e) == 'negative'\nelse:\n    assert False",
                 "try:\n    candidate(0)\nexcept KeyError as e:\n    assert e.args == ('k',)\nelse:\n    assert False")
    prog = ("import statistics\ndef f(x):\n    if x < 0: raise statistics.StatisticsError('negative')\n"
            "    raise KeyError('k')\n")
    assert outcomes(ex, task, prog) == (P, P)


def test_keyword_arguments_changed_in_place_are_seen(ex):
    task = atask("xs = [3, 1, 2]\ncandidate(xs=xs)\nassert xs == [1, 2, 3]")
    assert outcomes(ex, task, "def f(xs): xs.sort()\n") == (P,)


def test_odd_exceptions_and_namedtuples_and_objects_the_test_makes(ex):
    task = atask("try:\n    candidate('group')\nexcept TypeError:\n    pass\nelse:\n    assert False",
                 "assert candidate('renamed') == (1, 2)",
                 "import datetime\nassert candidate(datetime.date(2024, 1, 2)) == 2")
    prog = ("import collections, datetime\nR = collections.namedtuple('R', ['a', 'def'], rename=True)\n"
            "def f(x):\n    if x == 'group': raise ExceptionGroup('g', [ValueError(1)])\n"
            "    if x == 'renamed': return R(1, 2)\n    return x.day\n")
    assert outcomes(ex, task, prog) == (E, P, P)


def test_namedtuple_classes_from_program_data_are_bounded():
    import json

    from btp.execution import values

    values.clear_caches()
    huge = {"nt": ["T" * 1000, ["a" * 1000, "b"], [1, 2]]}
    back = values.decode(json.loads(json.dumps(huge)))
    assert back == (1, 2) and type(back) is tuple  # no class built for names that long
    assert values._namedtuple_class.cache_info().currsize == 0
    values.decode({"nt": ["P", ["a", "b"], [1, 2]]})
    assert values._namedtuple_class.cache_info().currsize == 1
    values.clear_caches()  # the judge does this for every program
    assert values._namedtuple_class.cache_info().currsize == 0


def test_a_worker_whose_judge_grew_too_much_is_replaced_after_its_program():
    """The zygote passes on the judge's "restart" (it grew past its allowance): the host keeps the
    program's results and replaces the worker."""
    from btp.execution import ExecConfig, Executor

    with Executor(ExecConfig(workers=1, cache=False)) as one:
        worker = one._workers[0]
        before = worker.proc.pid
        read = worker.reader.read

        def read_and_flag(deadline):
            resp = read(deadline)
            worker.reader.read = read  # once
            return {**resp, "restart": True}

        worker.reader.read = read_and_flag
        assert outcomes(one, atask("assert candidate() == 1"), "def f(): return 1") == (P,)
        assert worker.proc.pid != before
        assert outcomes(one, atask("assert candidate() == 1"), "def f(): return 1") == (P,)


def test_every_value_the_judge_accepts_encodes_again():
    """The hand-back rule relies on it: what came from the program must never be an object only
    the test could have made (``{"bi": "__loader__"}`` decoded to a class that did not encode)."""
    import builtins

    import pytest

    from btp.execution.values import BadValue, decode, encode

    accepted = 0
    for name in dir(builtins):
        try:
            obj = decode({"bi": name})
        except BadValue:
            continue
        accepted += 1
        assert encode(obj) == {"bi": name}, name
    assert accepted > 50
    with pytest.raises(BadValue):
        decode({"bi": "__loader__"})


def test_every_decoder_tag_gives_a_value_that_encodes_again():
    """Same invariant for every tag (a new tag must add its sample here)."""
    import json

    from btp.execution.values import _DECODERS, decode, encode

    samples = {
        "f": {"f": "nan"}, "t": {"t": [1, [2]]}, "s": {"s": [1, 2]}, "fs": {"fs": [1]}, "d": {"d": [[{"t": [1]}, 2]]},
        "b": {"b": "ff"}, "ba": {"ba": "00"}, "c": {"c": [1.0, {"f": "inf"}]}, "od": {"od": [["a", 1]]},
        "ctr": {"ctr": [["a", 2]]}, "dd": {"dd": [[1, [2]]]}, "dq": {"dq": [1, 2]}, "dec": {"dec": "NaN"},
        "ix": {"ix": "-" + "f" * 4000}, "fr": {"fr": [1, 3]}, "it": {"it": [1, {"s": [2]}]},
        "nd": {"nd": ["complex128", [2], [{"c": [1.0, 2.0]}, {"c": [0.0, 0.0]}]]}, "ns": {"ns": ["<U3", "abc"]},
        "rg": {"rg": [0, {"ix": "f" * 4000}, 7]}, "dk": {"dk": [1, "a"]}, "dv": {"dv": [[1]]},
        "di": {"di": [[1, {"t": []}]]}, "nt": {"nt": ["P", ["a", "b"], [1, {"nd": ["int8", [1], [3]]}]]},
        "bi": {"bi": "len"},
    }
    assert set(samples) == set(_DECODERS) - {"ref"}
    for tag, enc in samples.items():
        value = decode(json.loads(json.dumps(enc)))
        json.dumps(encode(value))  # no Unencodable, no TypeError


def test_a_deadline_moves_by_the_run_delay_it_reads(tmp_path):
    """The judge's grace after an aborted test grows by the run delay of the zygote and the judge;
    a program's backstop only while the program has no other process (this /proc, the host's,
    shows many: no credit)."""
    import os

    from btp.execution import zygote

    stat = tmp_path / "schedstat"
    stat.write_text("0 0 0\n")
    fd = os.open(stat, os.O_RDONLY)
    try:
        grace = zygote.Deadline(0.0, (fd,), cap=30.0)
        program = zygote.Deadline(0.0, (fd,), cap=30.0, template=1)
        program.pid = os.getpid()
        stat.write_text("0 5000000000 0\n")  # 5 s runnable but waiting for a CPU
        assert 4.0 < grace.left() <= 5.0
        assert program.left() <= 0
    finally:
        os.close(fd)
