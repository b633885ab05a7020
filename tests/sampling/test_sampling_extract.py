from btp.sampling.extract import extract, find_code
from btp.tasks.types import AssertTest, Task

PROMPT = 'from typing import List\n\n\ndef add(a: int, b: int) -> int:\n    """Add."""\n'
TASK = Task("t/0", PROMPT, (AssertTest("assert candidate(1, 2) == 3"),), entry_point="add")


def test_fenced_block_with_prose_after_keeps_prompt_header():
    text = "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```\nThis adds numbers."
    ex = extract(TASK, text)
    assert ex.program == "from typing import List\n\n\ndef add(a, b):\n    return a + b\n"
    assert text[ex.code_start:ex.code_end] == "def add(a, b):\n    return a + b"


def test_unclosed_fence_runs_to_end():
    ex = extract(TASK, "```python\ndef add(a, b):\n    return a+b")
    assert ex.program.endswith("def add(a, b):\n    return a+b\n")


def test_body_only_is_appended_to_prompt():
    ex = extract(TASK, "```python\n    return a + b\n```")
    assert ex.program == PROMPT + "    return a + b\n"
    ns = {}
    exec(ex.program, ns)
    assert ns["add"](2, 3) == 5


def test_unindented_body_is_indented_under_the_signature():
    ex = extract(TASK, "return a + b")
    ns = {}
    exec(ex.program, ns)
    assert ns["add"](2, 3) == 5


def test_fenceless_output_trailing_prose_is_trimmed():
    text = "def add(a, b):\n    return a + b\n\nThis function returns the sum of a and b."
    start, end = find_code(text)
    assert text[start:end] == "def add(a, b):\n    return a + b"


def test_repeated_def_line_program_still_runs_and_last_definition_wins():
    text = "```python\ndef add(a: int, b: int) -> int:\ndef add(a, b):\n    return a + b\n```"
    ex = extract(TASK, text)
    assert "def add(a, b):" in ex.program


def test_stdio_task_program_is_the_code_alone():
    from btp.tasks.types import StdioTest

    task = Task("s/0", "Read two ints, print the sum.", (StdioTest("1 2\n", "3\n"),))
    ex = extract(task, "Sure!\n```python\na, b = map(int, input().split())\nprint(a + b)\n```")
    assert ex.program == "a, b = map(int, input().split())\nprint(a + b)\n"


def test_answer_code_drops_the_header_extract_added():
    ex = extract(TASK, "```python\ndef add(a, b):\n    return a + b\n```")
    from btp.sampling.extract import answer_code

    assert answer_code(TASK, ex.program) == "def add(a, b):\n    return a + b\n"
    body = extract(TASK, "    return a + b")
    assert answer_code(TASK, body.program).startswith("def add(a: int, b: int) -> int:")
