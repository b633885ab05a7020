"""Experience replay: SQLite storage, priorities (P2Value), index samplers, and the Buffer."""

from btp.replay.buffer import Batch, Buffer
from btp.replay.priority import PriorityConfig, p2value
from btp.replay.samplers import (
    IndexSampler,
    PassOnlySampler,
    ProportionalSampler,
    RankSampler,
    UniformSampler,
    is_weights,
    rank_weights,
)
from btp.replay.types import Record

__all__ = [
    "Batch", "Buffer", "IndexSampler", "PassOnlySampler", "PriorityConfig", "ProportionalSampler",
    "RankSampler", "Record", "UniformSampler", "is_weights", "p2value", "rank_weights",
]
