"""``btp train: fine-tune on minibatches drawn from a replay buffer``."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_cmd(
        buffer: Path = typer.Option(..., help="buffer.sqlite to draw minibatches from"),
        out: Path = typer.Option(..., help="folder for the fine-tuned model (HF format)"),
        model: str = typer.Option("smollm2-135m-instruct", help="starting model"),
        steps: int = typer.Option(40), batch_size: int = typer.Option(4), lr: float = typer.Option(2e-5),
        alpha: float = typer.Option(0.5), mode: str = typer.Option("proportional", help="proportional|rank|uniform|pass_only"),
        exponent: float = typer.Option(1.0), seed: int = typer.Option(0),
    ) -> None:
        """Fine-tune on minibatches drawn from a buffer by priority; save a normal HF folder."""
        from btp.models import load_model
        from btp.pipeline import BufferSource
        from btp.replay import Buffer, PriorityConfig
        from btp.training import TrainConfig, train

        m, tok = load_model(model)
        cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed)
        with Buffer(buffer) as buf:
            source = BufferSource(buf, PriorityConfig(alpha=alpha, mode=mode, exponent=exponent), tok, seed)
            history = train(m, tok, source, cfg)
        m.save_pretrained(out)
        tok.save_pretrained(out)
        print(f"trained {steps} steps, final loss {history[-1]['loss']:.4f} -> {out}")
