"""Progress bars print plain lines when the output is a file (nohup btp run ... > log)."""

import io

from rich.console import Console

from btp.progress import progress_bar


def test_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    with progress_bar(Console(file=out, force_terminal=False, width=200), every=0.0) as bar:
        job = bar.add_task("eval round 0: humaneval", total=3, info="")
        for i in range(3):
            bar.update(job, advance=1, info=f"{i} programs/s")
        bar.update(job, advance=0)  # already complete: not logged again
    lines = [line for line in out.getvalue().splitlines() if line.startswith("eval round 0: humaneval:")]
    assert [line.split(",")[0] for line in lines] == [f"eval round 0: humaneval: {i}/3" for i in (1, 2, 3)]
    assert lines[-1].endswith("2 programs/s") and "elapsed" in lines[0]


def test_terminal_gets_the_live_bar_only():
    out = io.StringIO()
    with progress_bar(Console(file=out, force_terminal=True, width=200), every=0.0) as bar:
        job = bar.add_task("train", total=2, info="")
        bar.update(job, advance=2)
    assert "train: 2/2" not in out.getvalue()
