"""A preallocated KV cache with one slot per row and a length per row (for continuous batching).

Each row (one beam of one task) keeps its keys/values left-aligned in columns ``[0, length)``; the
decode step writes every row's new key/value at that row's own length, so rows of different tasks,
started at different times, share one forward pass without padding the cache. Beams that change
parent copy only the rows that changed.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache


class SlotCache(Cache):
    def __init__(self, n_layers: int, rows: int, kv_heads: int, head_dim: int, capacity: int,
                 dtype: torch.dtype, device):
        super().__init__(layers=[])
        shape = (rows, kv_heads, capacity, head_dim)
        self.keys = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.values = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.capacity = capacity
        self.rows = torch.arange(rows, device=device)
        self.pos = torch.zeros(rows, dtype=torch.long, device=device)  # column of the next token per row
        self.width = 1  # columns the current step attends to

    def __len__(self) -> int:
        return len(self.keys)

    def update(self, key_states, value_states, layer_idx: int, *args, **kwargs):
        """Decode step: write each row's one new key/value at its own column, return the used columns."""
        k, v = self.keys[layer_idx], self.values[layer_idx]
        k[self.rows, :, self.pos] = key_states[:, :, 0]
        v[self.rows, :, self.pos] = value_states[:, :, 0]
        return k[:, :, : self.width], v[:, :, : self.width]

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.width

    def write_prefill(self, rows: torch.Tensor, layer_kv: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Copy a single prompt's keys/values (batch 1) into ``rows``, columns ``[0, prompt_len)``."""
        for i, (pk, pv) in enumerate(layer_kv):
            n = pk.shape[2]
            self.keys[i][rows, :, :n] = pk[0].to(self.keys[i].dtype)
            self.values[i][rows, :, :n] = pv[0].to(self.values[i].dtype)

    def copy_rows(self, dst: torch.Tensor, src: torch.Tensor, width: int) -> None:
        """Beam reordering: rows ``dst`` take the history of rows ``src`` (first ``width`` columns)."""
        for k, v in zip(self.keys, self.values):
            k[dst, :, :width] = k[src, :, :width]
            v[dst, :, :width] = v[src, :, :width]

    def mask(self) -> torch.Tensor:
        """4D boolean mask (rows, 1, 1, width): each row sees its own columns up to and including ``pos``."""
        cols = torch.arange(self.width, device=self.pos.device)
        return (cols[None, :] <= self.pos[:, None])[:, None, None, :]
