"""``btp train``: fine-tune on minibatches drawn from a replay buffer; works under ``accelerate launch``.

Baselines by flag: ``--mode uniform`` (uniform replay), ``--mode pass_only`` (rejection-sampling
fine-tuning: uniform over passing programs), ``--data all`` (plain SFT on every record).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_cmd(
        buffer: Path = typer.Option(..., help="buffer.sqlite to draw minibatches from"),
        out: Path = typer.Option(..., help="folder for the fine-tuned model (HF format)"),
        model: str = typer.Option("smollm2-135m-instruct", help="starting model (alias, folder or hub id)"),
        dtype: str = typer.Option("float32", help="weights dtype: float32 or bfloat16"),
        cpu: bool = typer.Option(False, help="train on CPU even when a GPU is there"),
        steps: int = typer.Option(40, help="optimizer steps"),
        batch_size: int = typer.Option(4, help="examples per micro-batch, per process"),
        grad_accum: int = typer.Option(1, help="micro-batches per optimizer step"),
        lr: float = typer.Option(2e-5, help="peak learning rate (AdamW)"),
        weight_decay: float = typer.Option(0.0, help="AdamW weight decay"),
        warmup: float = typer.Option(0.1, help="fraction of steps of linear warmup, then linear decay"),
        clip: float = typer.Option(1.0, help="gradient-norm clipping (0 = off)"),
        max_len: int = typer.Option(768, help="max tokens per example"),
        precision: str = typer.Option("fp32", help="fp32 or bf16 (autocast)"),
        data: str = typer.Option("replay", help="replay (draw by --mode) or all (plain SFT on every record)"),
        mode: str = typer.Option("proportional", help="proportional|rank|uniform|pass_only"),
        alpha: float = typer.Option(0.5, help="weight of P in P2Value"),
        exponent: float = typer.Option(1.0, help="priority exponent"),
        beta: float = typer.Option(0.0, help="importance-sampling exponent (0 = all weights 1)"),
        is_weights: bool = typer.Option(False, help="weight each example's loss by its IS weight"),
        lora: bool = typer.Option(False, help="train LoRA adapters (peft) instead of all weights"),
        lora_r: int = typer.Option(16, help="LoRA rank"),
        lora_alpha: int = typer.Option(32, help="LoRA alpha"),
        lora_merge: bool = typer.Option(True, help="merge LoRA into the saved weights"),
        checkpoint_every: int = typer.Option(20, help="checkpoint every N steps (0 = never)"),
        checkpoint_dir: Optional[Path] = typer.Option(None, help="checkpoints (default: OUT.ckpt); a rerun resumes from the newest"),
        tensorboard: bool = typer.Option(True, help="write TensorBoard metrics to OUT.ckpt/tensorboard"),
        wandb_project: Optional[str] = typer.Option(None, help="also log to this W&B project"),
        seed: int = typer.Option(0),
    ) -> None:
        """Fine-tune on minibatches drawn from a buffer by priority; save a normal HF folder."""
        import shutil

        from rich.console import Console

        from btp.errors import BtpError
        from btp.models import load_model
        from btp.pipeline import BufferSource
        from btp.replay import Buffer, PriorityConfig
        from btp.training import TrainConfig, make_accelerator, save_model, train

        if not buffer.is_file():
            raise BtpError(f"buffer {buffer} not found")
        cfg = TrainConfig(steps=steps, batch_size=batch_size, grad_accum=grad_accum, lr=lr, weight_decay=weight_decay,
                          warmup=warmup, clip=clip, max_len=max_len, use_is_weights=is_weights, seed=seed,
                          precision=precision, data=data, lora=lora, lora_r=lora_r, lora_alpha=lora_alpha,
                          lora_merge=lora_merge, checkpoint_every=checkpoint_every, tensorboard=tensorboard,
                          wandb_project=wandb_project)
        prio = PriorityConfig(alpha=alpha, mode=mode, exponent=exponent, beta=beta)
        ckpt = checkpoint_dir or out.with_name(out.name + ".ckpt")
        acc = make_accelerator(cpu=True if cpu else None)
        m, tok = load_model(model, dtype=dtype)
        with Buffer(buffer, readonly=acc.num_processes > 1) as buf:
            source = BufferSource(buf, prio, tok, seed, data=data, rank=acc.process_index, world=acc.num_processes)
            result = train(m, tok, source, cfg, checkpoint_dir=ckpt, log_dir=ckpt, console=Console(stderr=True),
                           accelerator=acc)
        if acc.is_main_process:
            save_model(result.model, tok, out, merge=lora_merge)
            if result.history:
                last = result.history[-1]
                print(f"trained steps {result.resumed_from + 1}-{last['step']} on {acc.num_processes} process(es), "
                      f"final loss {last['loss']:.4f} -> {out}")
            else:
                print(f"nothing to train: checkpoint {ckpt} is at step {result.resumed_from} -> {out}")
            for p in ckpt.glob("step-*"):
                shutil.rmtree(p, ignore_errors=True)
        acc.wait_for_everyone()
