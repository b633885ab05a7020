import math

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from btp.sampling.extract import extract
from btp.sampling.hf import HFSampler
from btp.sampling.likelihood import token_span
from btp.sampling.prompts import render_prompt
from btp.sampling.score import HFScorer
from btp.sampling.stops import stop_rule
from btp.tasks.types import AssertTest, StdioTest, Task

def capture_samples(monkeypatch) -> list:
    """Patch HFSampler to record (task, hypothesis, stop rule, sample) for every program it returns."""
    seen = []
    original = HFSampler._to_sample

    def spy(self, task, hyp, rank, rule):
        s = original(self, task, hyp, rank, rule)
        seen.append((task, hyp, rule, s))
        return s

    monkeypatch.setattr(HFSampler, "_to_sample", spy)
    return seen


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


def test_k_beams_per_task_with_finite_likelihoods(tiny_model_dir):
    model, tok = load(tiny_model_dir)
    sampler = HFSampler(model, tok, "tiny", max_new_tokens=12, batch_size=2)
    out = list(sampler.sample(TASKS, 3))
    assert sorted(s[0].task_id for s in out) == ["t/0", "t/1", "t/2"]
    assert sampler.stats["generated_tokens"] == sum(s.n_generated for batch in out for s in batch) > 0
    for samples in out:
        assert [s.beam_rank for s in samples] == [0, 1, 2]
        for s in samples:
            assert s.model == "tiny" and s.task_id == samples[0].task_id
            if s.n_tokens is not None:
                assert 0 < s.n_tokens <= 12
                assert math.isfinite(s.logprob_sum) and s.logprob_sum <= 0


def test_batching_does_not_change_results(tiny_model_dir):
    model, tok = load(tiny_model_dir)

    def run(bs):
        got = {b[0].task_id: [s.raw for s in b] for b in HFSampler(model, tok, "t", max_new_tokens=8, batch_size=bs).sample(TASKS, 2)}
        return [got[t.task_id] for t in TASKS]

    assert run(1) == run(3)


def test_program_likelihood_equals_teacher_forced_rescoring(tiny_model_dir, monkeypatch):
    """Each program's logprob_sum / n_tokens equal a teacher-forced pass over the program's tokens."""
    model, tok = load(tiny_model_dir)
    seen = capture_samples(monkeypatch)
    list(HFSampler(model, tok, "t", max_new_tokens=10, batch_size=2).sample(TASKS, 3))
    assert len(seen) == 9
    scorer = HFScorer(model, tok, "t")
    for task, hyp, rule, s in seen:
        prompt = tok(render_prompt(task, tok), add_special_tokens=False)["input_ids"]
        forced = scorer.token_logprobs([prompt], [hyp.tokens])[0]
        ex = extract(task, rule.cut(s.raw))
        i0, i1 = token_span(tok, hyp.tokens, ex.code_start, ex.code_end)
        assert (s.n_tokens or 0) == i1 - i0
        if s.n_tokens:
            assert abs(sum(forced[i0:i1]) - s.logprob_sum) / s.n_tokens < 1e-3
    assert any(s.n_tokens for *_, s in seen), "no program had scored tokens: the comparison ran on nothing"


def test_stop_rules_per_task_kind():
    chat = stop_rule(TASKS[0], chat=True)
    assert not chat.done("```python\ndef add(a, b):") and chat.done("```python\nx = 1\n```")
    plain = stop_rule(TASKS[0], chat=False)
    text = "    return a + b\n\ndef test():\n    pass"
    assert plain.done(text) and plain.cut(text) == "    return a + b\n"
    assert extract(TASKS[0], plain.cut(text)).program.endswith("    return a + b\n")
    stdio = stop_rule(TASKS[1], chat=False)
    assert stdio.cut("print(int(input())**2)\n```\nDone.") == "print(int(input())**2)"


@pytest.mark.slow
def test_real_model_programs_rescored_from_text_agree(smol_dir):
    """SmolLM2 on HumanEval-style prompts: re-tokenizing each stored program's text and teacher forcing
    gives the stored likelihood (within 1e-3 nats/token) whenever the text re-tokenizes to the generated ids."""
    model, tok = load(smol_dir)
    with pytest.MonkeyPatch.context() as mp:
        seen = capture_samples(mp)
        list(HFSampler(model, tok, "smol", max_new_tokens=48, batch_size=3).sample(TASKS, 3))
    scorer = HFScorer(model, tok, "smol")
    compared = 0
    for task, hyp, rule, s in seen:
        if tok(s.raw, add_special_tokens=False)["input_ids"] != hyp.tokens or not s.n_tokens:
            continue
        ex = extract(task, rule.cut(s.raw))
        (lp, n), = scorer.score([(render_prompt(task, tok), s.raw, (ex.code_start, ex.code_end))])
        assert n == s.n_tokens
        assert abs(lp - s.logprob_sum) / n < 1e-3
        compared += 1
    assert compared >= len(seen) // 2
