"""``btp train`` end to end on a tiny model: baseline flags, metrics, LoRA, and 2 processes (gloo)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from btp.pipeline import BufferSource
from btp.replay import Buffer, PriorityConfig, Record
from btp.tasks.types import AssertTest, Task
from btp.training import TrainConfig, train


def make_buffer(path: Path) -> Path:
    """6 tasks x 4 programs; pass rates 0, 1/3, 2/3, 1 (one passing program per task)."""
    with Buffer(path) as buf:
        buf.add_tasks([Task(f"t{i}", f"Write f{i}.", (AssertTest("assert True"),)) for i in range(6)])
        buf.add([Record(task_id=f"t{i}", program=f"def f{i}():\n    return {j}\n", pass_rate=j / 3, passed=j, total=3,
                        logprob_sum=-0.5 * j, n_tokens=6, beam_rank=j) for i in range(6) for j in range(4)])
    return path


def btp(*args, launcher=(sys.executable, "-m", "btp"), timeout=300):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([*launcher, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def buffer_path(tmp_path_factory):
    return make_buffer(tmp_path_factory.mktemp("buf") / "buffer.sqlite")


@pytest.mark.parametrize("flags, steps, check", [
    (["--mode", "pass_only"], 3, lambda rates: rates == [1.0] * 3),  # rejection-sampling FT: only passing programs
    pytest.param(["--data", "all"], 6, lambda rates: abs(np.mean(rates) - 0.5) < 1e-6,  # one epoch of all 24 records
                 marks=pytest.mark.slow),  # (TB keeps float32); test_train_source covers the epoch order in-process
])
def test_baseline_flags_train_and_log(tmp_path, tiny_model_dir, buffer_path, flags, steps, check):
    out = tmp_path / "out"
    proc = btp("train", "--buffer", buffer_path, "--out", out, "--model", tiny_model_dir, "--steps", steps,
               "--batch-size", 4, "--max-len", 64, "--lr", 1e-2, "--checkpoint-every", 1, *flags)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "final loss" in proc.stdout
    trained, start = load_file(str(out / "model.safetensors")), load_file(str(tiny_model_dir / "model.safetensors"))
    assert any(not torch.equal(trained[k], start[k]) for k in start)
    AutoModelForCausalLM.from_pretrained(out)  # plain transformers loads it
    ckpt = out.with_name("out.ckpt")
    assert not list(ckpt.glob("step-*"))  # checkpoints removed once the model is saved
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ev = EventAccumulator(str(ckpt / "tensorboard"))
    ev.Reload()
    tags = set(ev.Tags()["scalars"])
    assert {"train/loss", "train/lr", "train/tokens_per_s", "train/batch_p2value", "train/batch_pass_rate"} <= tags
    rates = [e.value for e in ev.Scalars("train/batch_pass_rate")]
    assert len(rates) == steps and check(rates), rates


def test_bad_flag_is_one_line_error(tmp_path, tiny_model_dir, buffer_path):
    proc = btp("train", "--buffer", buffer_path, "--out", tmp_path / "o", "--model", tiny_model_dir, "--data", "most")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["btp: error: train.data must be one of replay, all, got 'most'"]


class Joined:
    """Rank 0's and rank 1's micro-batches side by side: what 2 DDP processes average over."""

    def __init__(self, *sources):
        self.sources = sources

    def next(self, n):
        return [ex for s in self.sources for ex in s.next(n // len(self.sources))]


def test_two_processes_gloo_match_one_process_on_the_joined_batch(tmp_path, tiny_model_dir, buffer_path):
    out = tmp_path / "ddp"
    # without a GPU, --multi_gpu starts torchrun processes that fall back to CPU and gloo
    launch = (sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "btp")
    proc = btp("train", "--buffer", buffer_path, "--out", out, "--model", tiny_model_dir, "--steps", 3,
               "--batch-size", 2, "--max-len", 64, "--lr", 1e-2, "--warmup", 0, "--data", "all", "--seed", 3,
               "--no-tensorboard", "--checkpoint-every", 2, launcher=launch, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "on 2 process(es)" in proc.stdout

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with Buffer(buffer_path, readonly=True) as buf:
        prio = PriorityConfig(alpha=0.5)
        src = Joined(*(BufferSource(buf, prio, tok, 3, data="all", rank=r, world=2) for r in range(2)))
        cfg = TrainConfig(steps=3, batch_size=4, max_len=64, lr=1e-2, warmup=0, seed=3, tensorboard=False)
        single = train(model, tok, src, cfg).model.state_dict()
    ddp = load_file(str(out / "model.safetensors"))
    start = load_file(str(tiny_model_dir / "model.safetensors"))
    for k, v in ddp.items():
        assert not torch.equal(v, start[k]) or k.endswith("norm.weight")
        assert torch.allclose(v, single[k], atol=2e-5), k
