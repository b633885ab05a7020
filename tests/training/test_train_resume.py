"""A run killed with -9 and resumed from its checkpoint reaches exactly the uninterrupted weights."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import load_file

from btp.errors import BtpError

# Runs in a fresh interpreter: a real SQLite buffer, the pipeline's BufferSource, checkpoints every
# 2 steps; with KILL_AT set the process SIGKILLs itself right after that step (after a checkpoint).
SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import torch
    torch.set_num_threads(1)
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from btp.pipeline import BufferSource
    from btp.replay import Buffer, PriorityConfig, Record
    from btp.tasks.types import AssertTest, Task
    from btp.training import TrainConfig, save_model, train

    model_dir, work, kill_at = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    data = sys.argv[4]
    buf = Buffer(work / "buffer.sqlite")
    if len(buf) == 0:
        buf.add_tasks([Task(f"t{i}", f"Write f{i}.", (AssertTest("assert True"),)) for i in range(3)])
        buf.add([Record(task_id=f"t{i % 3}", program=f"def f{i % 3}():\\n    return {i}\\n", pass_rate=(i % 3) / 2,
                        logprob_sum=-0.3 * (i % 4), n_tokens=5) for i in range(9)])
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    source = BufferSource(buf, PriorityConfig(alpha=0.5, mode="proportional", beta=0.5), tok, seed=7, data=data)
    cfg = TrainConfig(steps=6, batch_size=2, grad_accum=2, lr=1e-2, warmup=0.3, seed=5, max_len=64,
                      use_is_weights=True, checkpoint_every=2, keep_checkpoints=2, tensorboard=False)
    def on_step(row):
        if row["step"] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    result = train(model, tok, source, cfg, checkpoint_dir=work / "ckpt", on_step=on_step,
                   log_path=work / "log.jsonl")
    save_model(result.model, tok, work / "out")
    print("RESUMED_FROM", result.resumed_from)
""")


def run(script, *args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env)


def weights(folder):
    return load_file(str(folder / "model.safetensors"))


@pytest.mark.parametrize("data", ["replay", pytest.param("all", marks=pytest.mark.slow)])
def test_killed_and_resumed_run_equals_uninterrupted(tmp_path, tiny_model_dir, data):
    script = tmp_path / "train_script.py"
    script.write_text(SCRIPT)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    whole = run(script, tiny_model_dir, tmp_path / "a", 0, data)
    assert whole.returncode == 0, whole.stderr[-3000:]
    assert "RESUMED_FROM 0" in whole.stdout

    killed = run(script, tiny_model_dir, tmp_path / "b", 5, data)
    assert killed.returncode == -signal.SIGKILL
    assert not (tmp_path / "b" / "out").exists()
    steps = sorted(p.name for p in (tmp_path / "b" / "ckpt").iterdir())
    assert steps == ["step-00000002", "step-00000004"]
    resumed = run(script, tiny_model_dir, tmp_path / "b", 0, data)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "RESUMED_FROM 4" in resumed.stdout

    a, b = weights(tmp_path / "a" / "out"), weights(tmp_path / "b" / "out")
    start = weights(tiny_model_dir)
    assert a.keys() == b.keys()
    assert any(not torch.equal(a[k], start[k]) for k in a)
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ from the uninterrupted run"
    log_a = [json.loads(x) for x in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    log_b = [json.loads(x) for x in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    last_b = {r["step"]: r["loss"] for r in log_b}  # steps 5 was logged twice; the resumed value wins
    assert [r["loss"] for r in log_a] == [last_b[s] for s in range(1, 7)]


def test_unfinished_checkpoint_is_ignored_and_other_settings_refused(tmp_path, tiny_model_dir):
    from accelerate import Accelerator

    from btp.training import checkpoint

    root = tmp_path / "ckpt"
    (root / "step-00000006.partial").mkdir(parents=True)  # a save killed half-way
    acc = Accelerator(cpu=True)
    assert checkpoint.load_latest(acc, root, {"lr": 1.0}, None) == 0
    assert not (root / "step-00000006.partial").exists()
    done = root / "step-00000004"
    done.mkdir()
    (done / checkpoint.TRAINER_FILE).write_text(json.dumps({"step": 4, "world_size": 1, "config": {"lr": 2.0}}))
    with pytest.raises(BtpError, match="other training settings \\(lr\\)"):
        checkpoint.load_latest(acc, root, {"lr": 1.0}, None)
