"""Where per-step metrics go: a JSONL file, TensorBoard (default) and Weights & Biases (on request)."""

from __future__ import annotations

import json
from pathlib import Path

from btp.errors import BtpError


class MetricsLog:
    """Writes each step's numeric metrics to the sinks asked for; call only on the main process."""

    def __init__(self, log_dir: Path | None, *, tensorboard: bool, wandb_project: str | None,
                 config: dict, jsonl: Path | None = None):
        self.jsonl = jsonl
        self.tb = None
        self.wandb = None
        if tensorboard and log_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise BtpError("train.tensorboard needs the tensorboard package: pip install tensorboard "
                               "(or set train.tensorboard: false)") from None
            self.tb = SummaryWriter(str(Path(log_dir) / "tensorboard"))
        if wandb_project:
            try:
                import wandb
            except ImportError:
                raise BtpError("train.wandb_project needs the wandb package: pip install wandb") from None
            self.wandb = wandb.init(project=wandb_project, config=config,
                                    dir=str(log_dir) if log_dir is not None else None)

    def write(self, row: dict) -> None:
        if self.jsonl is not None:
            with open(self.jsonl, "a") as f:
                f.write(json.dumps(row) + "\n")
        numeric = {k: v for k, v in row.items() if isinstance(v, (int, float)) and k != "step"}
        if self.tb is not None:
            for k, v in numeric.items():
                self.tb.add_scalar(f"train/{k}", v, row["step"])
        if self.wandb is not None:
            self.wandb.log({f"train/{k}": v for k, v in numeric.items()}, step=row["step"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()
