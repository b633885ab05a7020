"""The continuous-batching beam search returns what transformers' beam search returns, task by task."""

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from btp.sampling.beam import BeamSearch
from btp.sampling.stops import StopRule

PROMPTS = ["def add(a, b):", "Read n and print n squared. Please write it", "x",
           "hello world this is a longer prompt for testing", "import os\n"]


def load(path):
    tok = AutoTokenizer.from_pretrained(path)
    return AutoModelForCausalLM.from_pretrained(path).eval(), tok


def reference(model, tok, ids, k, max_new, eos):
    out = model.generate(torch.tensor([ids]), max_new_tokens=max_new, num_beams=k, num_return_sequences=k,
                         do_sample=False, early_stopping=True, pad_token_id=eos, eos_token_id=eos,
                         output_scores=True, return_dict_in_generate=True)
    seqs = [[t for t in s if t != eos] for s in out.sequences[:, len(ids):].tolist()]
    return seqs, out.sequences_scores.tolist()


def run(model, tok, prompts, k, max_new, slots, eos):
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    eng = BeamSearch(model, eos_id=eos, k=k, max_new_tokens=max_new, slots=slots, piece=lambda t: tok.decode([t]))
    return ids, dict(eng.run(ids, [StopRule()] * len(ids))), eng


def test_same_beams_and_scores_as_transformers_for_every_slot_count(tiny_model_dir):
    model, tok = load(tiny_model_dir)
    for slots in (1, 3):
        ids, got, _ = run(model, tok, PROMPTS, 3, 10, slots, tok.eos_token_id)
        assert sorted(got) == list(range(len(PROMPTS)))
        for i, p in enumerate(ids):
            seqs, scores = reference(model, tok, p, 3, 10, tok.eos_token_id)
            assert [h.tokens for h in got[i]] == seqs, (slots, i)
            assert [h.score for h in got[i]] == [round(s, 5) for s in scores] or all(
                abs(a.score - b) < 1e-4 for a, b in zip(got[i], scores))


def test_eos_ends_beams_early_like_transformers(tiny_model_dir):
    """EOS made about as likely as the model's favourite token: beams end at different steps, slots refill."""
    model, tok = load(tiny_model_dir)
    eos = tok.eos_token_id
    p = tok(PROMPTS[0], add_special_tokens=False)["input_ids"]
    seqs, _ = reference(model, tok, p, 3, 4, len(tok) - 1)
    fav = seqs[0][0]
    with torch.no_grad():
        w = model.get_output_embeddings().weight
        w[eos] = 0.97 * w[fav] + 0.03 * w[eos]
    ids, got, eng = run(model, tok, PROMPTS, 3, 12, 2, eos)
    lengths = set()
    for i, q in enumerate(ids):
        seqs, _ = reference(model, tok, q, 3, 12, eos)
        assert [h.tokens for h in got[i]] == seqs, i
        lengths.update(len(h.tokens) for h in got[i])
    assert len(lengths) > 1  # the case exercised: hypotheses of different lengths


def test_logprobs_are_the_tokens_log_softmax(tiny_model_dir):
    model, tok = load(tiny_model_dir)
    ids, got, _ = run(model, tok, PROMPTS[:3], 2, 6, 2, tok.eos_token_id)
    for i, p in enumerate(ids):
        for h in got[i]:
            full = torch.tensor([p + h.tokens])
            with torch.no_grad():
                lp = torch.log_softmax(model(full).logits[0, :-1].float(), -1)
            forced = lp[torch.arange(len(p) - 1, full.shape[1] - 1), torch.tensor(h.tokens)]
            assert torch.allclose(forced, torch.tensor(h.logprobs), atol=1e-4)
