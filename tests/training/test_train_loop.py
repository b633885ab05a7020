import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from btp.training import Example, TrainConfig, collate, train, weighted_loss
from btp.training.loop import lr_lambda


def test_collate_masks_prompt_and_padding(smol_dir):
    tok = AutoTokenizer.from_pretrained(smol_dir)
    exs = [Example("prompt one here", "abc"), Example("p", "a much longer completion text")]
    b = collate(exs, tok, max_len=64)
    for i, ex in enumerate(exs):
        n_prompt = len(tok(ex.prompt, add_special_tokens=False)["input_ids"])
        n_comp = len(tok(ex.completion, add_special_tokens=False)["input_ids"]) + 1  # + EOS
        labels = b["labels"][i]
        assert (labels[:n_prompt] == -100).all()
        assert (labels[n_prompt:n_prompt + n_comp] != -100).all()
        assert (labels[n_prompt + n_comp:] == -100).all()
        assert int(b["attention_mask"][i].sum()) == n_prompt + n_comp
        assert labels[n_prompt + n_comp - 1] == tok.eos_token_id


def test_collate_cuts_prompt_before_completion(smol_dir):
    tok = AutoTokenizer.from_pretrained(smol_dir)
    b = collate([Example("word " * 100, "keep me")], tok, max_len=16)
    assert b["input_ids"].shape[1] == 16
    n_comp = len(tok("keep me", add_special_tokens=False)["input_ids"]) + 1
    assert int((b["labels"][0] != -100).sum()) == n_comp


def test_weighted_loss_matches_manual_per_example_mean():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7)
    labels = torch.tensor([[-100, 1, 2, -100, -100], [-100, -100, 3, 4, 5]])
    w = torch.tensor([0.5, 2.0])
    got = weighted_loss(logits, labels, w)
    lp = torch.log_softmax(logits, -1)
    per = []
    for i in range(2):
        terms = [-lp[i, t - 1, labels[i, t]] for t in range(1, 5) if labels[i, t] != -100]
        per.append(torch.stack(terms).mean())
    assert torch.allclose(got, (torch.stack(per) * w).mean())


def test_lr_schedule_warms_up_then_decays_to_zero():
    f = lr_lambda(TrainConfig(steps=10, warmup=0.2))
    values = [f(s) for s in range(10)]
    assert values[0] == 0.5 and values[1] == 1.0
    assert all(a >= b for a, b in zip(values[1:], values[2:]))
    assert values[-1] == 0.125


class Repeat:
    def __init__(self, ex):
        self.ex = ex

    def next(self, n):
        return [self.ex] * n


def test_training_lowers_loss_and_is_reproducible(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    cfg = TrainConfig(steps=20, batch_size=2, lr=3e-2, warmup=0.0, seed=3)
    ex = Example("Write add.", "```python\ndef add(a, b):\n    return a + b\n```")
    runs = []
    for _ in range(2):
        model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        hist = train(model, tok, Repeat(ex), cfg).history
        runs.append((hist, next(model.parameters()).detach().clone()))
    (h1, p1), (h2, p2) = runs
    assert h1[-1]["loss"] < 0.5 * h1[0]["loss"]
    assert [r["loss"] for r in h1] == [r["loss"] for r in h2]
    assert torch.equal(p1, p2)
