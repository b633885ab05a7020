"""Training: fine-tune on minibatches (loss on program tokens only)."""

from btp.training.data import Example, collate, completion_text, weighted_loss
from btp.training.loop import TrainConfig, train

__all__ = ["Example", "TrainConfig", "collate", "completion_text", "train", "weighted_loss"]
