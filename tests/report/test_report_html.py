import base64
import json
import re
import shutil
import subprocess

import pytest

from btp.config import RunConfig, save_config
from btp.replay import Buffer, Record
from btp.report.html import render
from btp.tasks.types import AssertTest, Task

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_run(path, alpha, final_pass, mode="proportional"):
    path.mkdir(parents=True)
    cfg = RunConfig(run_dir=str(path))
    cfg.replay = type(cfg.replay)(alpha=alpha, mode=mode)
    save_config(cfg, path / "config.yaml")
    rows = [
        {"stage": "eval", "round": 0, "dataset": "humaneval fold=1/2", "model": "m", "n_tasks": 4, "pass_rate": 0.1, "strict_accuracy": 0.0},
        {"stage": "sample", "round": 1, "model": "m", "tasks": 2, "programs": 5, "all_pass": 1, "seconds": 3.0},
        {"stage": "train", "round": 1, "step": 1, "loss": 2.0, "lr": 1e-5, "tokens": 10},
        {"stage": "train", "round": 1, "step": 2, "loss": 1.5, "lr": 1e-5, "tokens": 10},
        {"stage": "eval", "round": 1, "dataset": "humaneval fold=1/2", "model": "m", "n_tasks": 4, "pass_rate": final_pass, "strict_accuracy": 0.25},
    ]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with Buffer(path / "buffer.sqlite") as buf:
        buf.add_tasks([Task("t/0", "p", (AssertTest("assert True"),))])
        buf.add([Record("t/0", f"x = {i}", pass_rate=i / 4, passed=i, total=4, logprob_sum=-float(i + 1), n_tokens=5, model="m", round=1)
                 for i in range(5)])
    return path


def pngs(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def test_single_run_page_has_tables_and_every_plot(tmp_path):
    run = make_run(tmp_path / "a", 0.5, 0.3)
    out = render([run], run / "report" / "index.html")
    page = out.read_text()
    images = pngs(page)
    assert len(images) == 5  # before/after, pass-rate, P2Value, sampling probability, loss
    assert all(img.startswith(PNG_MAGIC) for img in images)
    assert "humaneval fold=1/2" in page and "0.300" in page
    assert "http" not in page.replace("http-equiv", "")  # self-contained: nothing fetched


def test_sweep_adds_alpha_curves_a_table_and_png_files(tmp_path):
    runs = [make_run(tmp_path / f"r{i}", alpha, 0.2 + alpha / 10 + i / 100) for i, alpha in enumerate([0.0, 0.0, 0.5, 0.5, 1.0])]
    runs.append(make_run(tmp_path / "u", 0.5, 0.9, mode="uniform"))  # ignores alpha: a band, not a point at 0.5
    page = render(runs, tmp_path / "sweep.html", png_dir=tmp_path / "png").read_text()
    assert "pass rate vs alpha" in page and "strict accuracy vs alpha" in page
    assert len(pngs(page)) == 2 + 5 * len(runs)
    assert "uniform" in page and "0.900" in page  # the sweep table lists every run's final metric
    files = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert "pass-rate-vs-alpha.png" in files and "r0-training-loss.png" in files and len(files) == 2 + 5 * len(runs)


def test_ci95_uses_student_t():
    from btp.report.plots import ci95

    assert ci95([1.0]) == 0.0
    assert abs(ci95([1.0, 2.0, 3.0]) - 4.303 * 1.0 / 3 ** 0.5) < 1e-9


def test_not_a_run_dir_is_one_line(tmp_path):
    from btp.errors import BtpError

    with pytest.raises(BtpError, match="not a btp run directory"):
        render([tmp_path], tmp_path / "x.html")


def test_page_renders_in_headless_chromium(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed (make test's system-deps installs it)")
    run = make_run(tmp_path / "a", 0.5, 0.3)
    out = render([run], run / "report" / "index.html")
    shot = tmp_path / "shot.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<img") == 5 and "btp report" in dom.stdout
    subprocess.run([chromium, *flags, "--window-size=1000,2400", f"--screenshot={shot}", out.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.read_bytes().startswith(PNG_MAGIC) and shot.stat().st_size > 20_000
