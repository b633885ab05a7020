"""Loop options on a tiny model: IS weights, LoRA (merged or not), bf16, gradient accumulation."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from btp.errors import BtpError
from btp.models import load_model
from btp.training import Example, TrainConfig, save_model, train

A = Example("Write add.", "```python\ndef add(a, b):\n    return a + b\n```")
B = Example("Write a longer function that subtracts.", "```python\ndef sub(a, b):\n    return a - b\n```")


class Fixed:
    """Always the same examples (with their weights)."""

    def __init__(self, *examples):
        self.examples = list(examples)

    def next(self, n):
        assert n == len(self.examples)
        return self.examples


def run(model_dir, source, **cfg):
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    base = dict(steps=3, batch_size=len(source.examples), lr=1e-2, warmup=0.0, seed=1, max_len=64, tensorboard=False)
    result = train(model, tok, source, TrainConfig(**{**base, **cfg}))
    return result, tok


def params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_is_weights_scale_each_example_loss(tiny_model_dir):
    # weights (2, 0) on [A, B] = the loss of A alone (mean over 2 examples of 2*lA and 0)
    weighted, _ = run(tiny_model_dir, Fixed(Example(A.prompt, A.completion, 2.0), Example(B.prompt, B.completion, 0.0)),
                      use_is_weights=True)
    only_a, _ = run(tiny_model_dir, Fixed(A, A), use_is_weights=True)
    ignored, _ = run(tiny_model_dir, Fixed(Example(A.prompt, A.completion, 2.0), Example(B.prompt, B.completion, 0.0)),
                     use_is_weights=False)
    w, a, i = params(weighted.model), params(only_a.model), params(ignored.model)
    assert all(torch.allclose(w[k], a[k], atol=1e-5) for k in w)
    assert [r["loss"] for r in weighted.history] == pytest.approx([r["loss"] for r in only_a.history], rel=1e-4)
    assert any(not torch.allclose(i[k], a[k], atol=1e-5) for k in i)  # without the flag B is learned too


def test_gradient_accumulation_equals_the_bigger_batch(tiny_model_dir):
    class Alternate:
        examples = [A]

        def __init__(self):
            self.i = 0

        def next(self, n):
            self.i += 1
            return [A if self.i % 2 else B]

    big, _ = run(tiny_model_dir, Fixed(A, B))
    acc, _ = run(tiny_model_dir, Alternate(), grad_accum=2)
    b, a = params(big.model), params(acc.model)
    assert all(torch.allclose(b[k], a[k], atol=1e-5) for k in b)


@pytest.mark.parametrize("merge", [True, False])
def test_lora_trains_adapters_only_and_saves_a_loadable_folder(tmp_path, tiny_model_dir, merge):
    start = params(AutoModelForCausalLM.from_pretrained(tiny_model_dir))
    result, tok = run(tiny_model_dir, Fixed(A, B), lora=True, lora_r=4, lora_merge=merge, lr=5e-2)
    assert result.model.peft_config  # wrapped by peft
    base = {k.replace("base_model.model.", "").replace(".base_layer", ""): v
            for k, v in params(result.model).items() if "lora_" not in k}
    assert all(torch.equal(base[k], start[k]) for k in start)  # the base weights did not move
    out = save_model(result.model, tok, tmp_path / "out", merge=merge)
    ids = tok("def add(a, b):", return_tensors="pt")["input_ids"]
    model, _ = load_model(str(out))  # the btp loader, as every btp command uses
    plain = AutoModelForCausalLM.from_pretrained(out)
    with torch.no_grad():
        want = result.model(input_ids=ids).logits
        assert torch.allclose(model(input_ids=ids).logits, want, atol=1e-4)
        assert torch.allclose(plain(input_ids=ids).logits, want, atol=1e-4)
        untrained = AutoModelForCausalLM.from_pretrained(tiny_model_dir)(input_ids=ids).logits
        assert not torch.allclose(untrained, want, atol=1e-3)
    assert (out / "adapter_config.json").exists() != merge


def test_bf16_autocast_trains(tiny_model_dir):
    result, _ = run(tiny_model_dir, Fixed(A, B), precision="bf16", steps=8, lr=3e-2)
    losses = [r["loss"] for r in result.history]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    assert next(result.model.parameters()).dtype == torch.float32  # master weights stay fp32


@pytest.mark.parametrize("bad, message", [({"precision": "fp16"}, "train.precision"), ({"steps": 0}, "train.steps"),
                                          ({"warmup": 2.0}, "train.warmup"), ({"data": "some"}, "train.data")])
def test_bad_settings_are_named(bad, message):
    with pytest.raises(BtpError, match=message):
        TrainConfig(**bad)
