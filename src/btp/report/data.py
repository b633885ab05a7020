"""Read what a run directory holds into plain Python: metrics rows, config, buffer distributions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from btp import runlog
from btp.errors import BtpError


@dataclass
class RunData:
    path: Path
    config: dict
    metrics: list[dict]
    pass_rates: np.ndarray = field(default_factory=lambda: np.zeros(0))
    p2values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    probs: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def rows(self, stage: str) -> list[dict]:
        return [m for m in self.metrics if m.get("stage") == stage]


def read_run(path: str | Path) -> RunData:
    import yaml

    from btp.config import RunConfig, from_dict

    path = Path(path)
    if not (path / "config.yaml").exists():
        raise BtpError(f"{path} is not a btp run directory (no config.yaml)")
    config = yaml.safe_load((path / "config.yaml").read_text()) or {}
    metrics = runlog.read(path / "metrics.jsonl")
    data = RunData(path, config, metrics)
    buffer = path / "buffer.sqlite"
    if buffer.exists():
        from btp.replay import Buffer

        cfg = from_dict(RunConfig, config).replay
        with Buffer(buffer, readonly=True) as buf:
            if len(buf):
                data.pass_rates = np.array([r.pass_rate for r in buf.records()])
                _, data.p2values = buf.priorities(cfg)
                _, data.probs = buf.distribution(cfg)
    return data
