"""Training: fine-tune on minibatches (loss on program tokens only), resumable, under accelerate."""

from btp.training.config import TrainConfig
from btp.training.data import Example, collate, completion_text, weighted_loss
from btp.training.loop import BatchSource, TrainResult, make_accelerator, train
from btp.training.lora import save_model

__all__ = ["BatchSource", "Example", "TrainConfig", "TrainResult", "collate", "completion_text", "make_accelerator",
           "save_model", "train", "weighted_loss"]
