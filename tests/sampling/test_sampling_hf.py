import math

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from btp.sampling.hf import HFSampler
from btp.sampling.prompts import render_prompt
from btp.tasks.types import AssertTest, StdioTest, Task

TASKS = [
    Task("t/0", 'def add(a, b):\n    """Add two numbers."""\n', (AssertTest("assert candidate(1, 2) == 3"),), entry_point="add"),
    Task("t/1", "Read n and print n squared.", (StdioTest("3\n", "9\n"),)),
    Task("t/2", 'def neg(x):\n    """Negate x."""\n', (AssertTest("assert candidate(1) == -1"),), entry_point="neg"),
]


def load(path):
    tok = AutoTokenizer.from_pretrained(path)
    tok.padding_side = "left"
    return AutoModelForCausalLM.from_pretrained(path).eval(), tok


def test_chat_prompt_uses_the_models_template(smol_dir):
    tok = AutoTokenizer.from_pretrained(smol_dir)
    text = render_prompt(TASKS[0], tok)
    assert text.startswith("<|im_start|>") and text.rstrip().endswith("<|im_start|>assistant")
    assert "def add(a, b):" in text


def test_beams_per_task_in_order_with_finite_likelihoods(tiny_model_dir):
    model, tok = load(tiny_model_dir)
    sampler = HFSampler(model, tok, "tiny", max_new_tokens=12, batch_size=2)
    out = list(sampler.sample(TASKS, 3))
    assert [s[0].task_id for s in out] == ["t/0", "t/1", "t/2"]
    for samples in out:
        assert [s.beam_rank for s in samples] == [0, 1, 2]
        for s in samples:
            assert s.model == "tiny"
            if s.n_tokens is not None:
                assert 0 < s.n_tokens <= 12
                assert math.isfinite(s.logprob_sum) and s.logprob_sum <= 0


def test_batching_does_not_change_results(tiny_model_dir):
    model, tok = load(tiny_model_dir)
    one = [s for batch in HFSampler(model, tok, "t", max_new_tokens=8, batch_size=1).sample(TASKS, 2) for s in batch]
    three = [s for batch in HFSampler(model, tok, "t", max_new_tokens=8, batch_size=3).sample(TASKS, 2) for s in batch]
    assert [s.raw for s in one] == [s.raw for s in three]


def test_beam_token_logprobs_match_teacher_forcing(tiny_model_dir, monkeypatch):
    """Every beam's per-token log-probs (left-padded batch, beam indices) equal a plain forward pass."""
    model, tok = load(tiny_model_dir)
    seen = []
    original = HFSampler._to_sample

    def spy(self, task, ids, lps, rank):
        seen.append((task, ids.clone(), lps.clone()))
        return original(self, task, ids, lps, rank)

    monkeypatch.setattr(HFSampler, "_to_sample", spy)
    list(HFSampler(model, tok, "t", max_new_tokens=10, batch_size=3).sample(TASKS, 3))
    assert len(seen) == 9
    for task, ids, lps in seen:
        prompt_ids = tok(render_prompt(task, tok), return_tensors="pt", add_special_tokens=False)["input_ids"][0]
        keep = lps > float("-inf")  # positions after the beam ended are padding
        gen = ids[keep]
        full = torch.cat([prompt_ids, gen])[None]
        with torch.no_grad():
            lp = torch.log_softmax(model(full).logits[0, :-1].float(), -1)
        forced = lp[torch.arange(len(prompt_ids) - 1, full.shape[1] - 1), gen]
        assert torch.allclose(forced, lps[keep].float(), atol=1e-3), (forced, lps[keep])
