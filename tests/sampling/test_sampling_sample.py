"""Temperature sampling on the continuous-batching engine: seeded, model log-probs, right distribution."""

import math

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from btp.sampling.sample import Sampling
from btp.sampling.stops import StopRule

PROMPTS = ["def add(a, b):", "Read n and print n squared.", "x", "import os\n"]


def load(path):
    return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def draw(model, tok, prompts, k=4, max_new=8, slots=2, **kw):
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    eng = Sampling(model, eos_id=tok.eos_token_id, k=k, max_new_tokens=max_new, slots=slots,
                   piece=lambda t: tok.decode([t]), **kw)
    return ids, dict(eng.run(ids, [StopRule()] * len(ids)))


def test_seeded_and_independent_rows(tiny_model_dir):
    model, tok = load(tiny_model_dir)
    _, a = draw(model, tok, PROMPTS, temperature=1.5, seed=1)
    _, b = draw(model, tok, PROMPTS, temperature=1.5, seed=1)
    _, c = draw(model, tok, PROMPTS, temperature=1.5, seed=2)
    toks = lambda d: {i: [h.tokens for h in hs] for i, hs in d.items()}  # noqa: E731
    assert sorted(a) == list(range(len(PROMPTS))) and all(len(hs) == 4 for hs in a.values())
    assert toks(a) == toks(b) and toks(a) != toks(c)
    assert any(len({tuple(h.tokens) for h in hs}) > 1 for hs in a.values())  # rows are not copies


def test_logprobs_are_the_models_own(tiny_model_dir):
    model, tok = load(tiny_model_dir)
    ids, got = draw(model, tok, PROMPTS[:2], temperature=2.0, seed=0)
    for i, hs in got.items():
        for h in hs[:2]:
            if not h.tokens:
                continue
            seq = torch.tensor([ids[i] + h.tokens])
            with torch.no_grad():
                logp = torch.log_softmax(model(seq).logits[0, :-1].float(), -1)
            ref = [float(logp[len(ids[i]) - 1 + j, t]) for j, t in enumerate(h.tokens)]
            assert h.logprobs == pytest.approx(ref, abs=1e-4)


def test_first_token_frequencies_follow_tempered_softmax(tiny_model_dir):
    model, tok = load(tiny_model_dir)
    ids = tok(PROMPTS[0], add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        p = torch.softmax(torch.log_softmax(model(torch.tensor([ids])).logits[0, -1].float(), -1) / 0.7, -1)
    _, got = draw(model, tok, [PROMPTS[0]] * 50, k=8, max_new=1, slots=5, temperature=0.7, top_p=1.0, seed=3)
    firsts = [h.tokens[0] if h.tokens else tok.eos_token_id for hs in got.values() for h in hs]
    top = int(p.argmax())
    freq = firsts.count(top) / len(firsts)
    sd = math.sqrt(float(p[top]) * (1 - float(p[top])) / len(firsts))
    assert abs(freq - float(p[top])) < 4 * sd + 1e-9


def test_tiny_top_p_is_greedy(tiny_model_dir):
    model, tok = load(tiny_model_dir)
    ids, got = draw(model, tok, PROMPTS, k=2, temperature=1.0, top_p=1e-6, seed=5)
    for i, hs in got.items():
        ref = model.generate(torch.tensor([ids[i]]), max_new_tokens=8, do_sample=False,
                             pad_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id)[0, len(ids[i]):].tolist()
        ref = [t for t in ref if t != tok.eos_token_id]
        assert [h.tokens for h in hs] == [ref, ref]
