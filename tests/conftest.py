"""Shared fixtures: a tiny randomly initialized model with SmolLM2's real tokenizer and chat template."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def smol_dir() -> Path:
    from btp.errors import BtpError
    from btp.models import resolve

    try:
        return Path(resolve("smollm2-135m-instruct", auto_pull=False))
    except BtpError as e:
        pytest.skip(f"{e} (make test pulls it first)")


@pytest.fixture(scope="session")
def tiny_model_dir(smol_dir, tmp_path_factory) -> Path:
    """A 2-layer random Llama with SmolLM2's tokenizer, saved as a normal HF folder."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(smol_dir)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=True)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg)
    out = tmp_path_factory.mktemp("tiny-model")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out
