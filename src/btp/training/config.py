"""``TrainConfig``: every fine-tuning setting, with the help text ``btp run --help`` prints."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from btp.errors import BtpError

PRECISIONS = ("fp32", "bf16")
DATA_MODES = ("replay", "all")

# Fields that change the trajectory of a run: a checkpoint written under other values is refused.
_RUNTIME_ONLY = ("checkpoint_every", "keep_checkpoints", "tensorboard", "wandb_project")


@dataclass
class TrainConfig:
    """Fine-tuning settings."""

    steps: int = field(default=40, metadata={"help": "optimizer steps"})
    batch_size: int = field(default=4, metadata={"help": "examples per micro-batch (per process)"})
    grad_accum: int = field(default=1, metadata={"help": "micro-batches per optimizer step"})
    lr: float = field(default=2e-5, metadata={"help": "peak learning rate (AdamW)"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    warmup: float = field(default=0.1, metadata={"help": "fraction of steps of linear warmup; then linear decay to 0"})
    clip: float = field(default=1.0, metadata={"help": "gradient-norm clipping (0 = off)"})
    max_len: int = field(default=768, metadata={"help": "max tokens per example (prompt is cut first)"})
    use_is_weights: bool = field(default=False, metadata={"help": "weight each example's loss by its importance-sampling weight (replay.beta sets them)"})
    seed: int = field(default=0, metadata={"help": "seed for torch / numpy / random"})
    precision: str = field(default="fp32", metadata={"help": "fp32, or bf16 (autocast; weights and optimizer stay in the model's dtype)"})
    data: str = field(default="replay", metadata={"help": "replay: draw each batch from the buffer by replay.mode; all: plain SFT on every record, shuffled, epoch after epoch"})
    lora: bool = field(default=False, metadata={"help": "train LoRA adapters (peft) instead of all weights"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling alpha"})
    lora_dropout: float = field(default=0.0, metadata={"help": "dropout on the LoRA branch"})
    lora_merge: bool = field(default=True, metadata={"help": "merge LoRA into the weights when saving (else save base config + adapter)"})
    checkpoint_every: int = field(default=20, metadata={"help": "save a resumable checkpoint every N steps (0 = never)"})
    keep_checkpoints: int = field(default=1, metadata={"help": "how many of the latest checkpoints to keep"})
    tensorboard: bool = field(default=True, metadata={"help": "write per-step metrics for TensorBoard"})
    wandb_project: str | None = field(default=None, metadata={"help": "also log to this Weights & Biases project (needs wandb)"})

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "grad_accum", "max_len", "lora_r", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise BtpError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lr", "weight_decay", "clip", "lora_dropout", "checkpoint_every"):
            if getattr(self, name) < 0:
                raise BtpError(f"train.{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.warmup <= 1.0:
            raise BtpError(f"train.warmup must be a fraction in [0, 1], got {self.warmup}")
        if self.precision not in PRECISIONS:
            raise BtpError(f"train.precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.data not in DATA_MODES:
            raise BtpError(f"train.data must be one of {', '.join(DATA_MODES)}, got {self.data!r}")

    def trajectory(self) -> dict:
        """The settings that decide the weights a run reaches (checkpoints must agree on them)."""
        return {k: v for k, v in asdict(self).items() if k not in _RUNTIME_ONLY}
