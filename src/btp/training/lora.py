"""LoRA (peft) on request, and saving the trained model as a normal Hugging Face folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from btp.errors import BtpError
from btp.training.config import TrainConfig


def add_lora(model, cfg: TrainConfig):
    """Wrap ``model`` with LoRA adapters on every linear layer; only the adapters train."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise BtpError("train.lora needs the peft package: pip install peft") from None
    lcfg = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")
    return get_peft_model(model, lcfg)


def is_lora(model) -> bool:
    return hasattr(model, "peft_config")


def save_model(model, tokenizer, out: Path, *, merge: bool = True) -> Path:
    """Save atomically (``out.partial`` then rename) a folder transformers and btp load directly.

    A LoRA model is merged into its weights when ``merge``; otherwise the folder holds the base
    model (config and weights) plus the adapter, which transformers applies when peft is installed.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BtpError(f"{out} exists and is not a folder")
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    if is_lora(model) and merge:
        model = model.merge_and_unload()
    if is_lora(model):
        # the untouched base weights plus the adapter: transformers applies an adapter found next
        # to a complete model's config.json and weights
        base = {k.replace("base_model.model.", "", 1).replace(".base_layer", ""): v
                for k, v in model.state_dict().items() if "lora_" not in k}
        model.get_base_model().save_pretrained(tmp, state_dict=base)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    return out
