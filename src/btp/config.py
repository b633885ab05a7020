"""Run configuration: one dataclass per stage, nested in ``RunConfig``; YAML in, validated, saved.

Loading is strict: an unknown key, a wrong type or a bad value is a one-line ``BtpError`` naming
the key. ``describe()`` lists every key with its default and help (``btp run --help`` prints it).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from btp.errors import BtpError
from btp.execution import ExecConfig
from btp.models.registry import DEFAULT_MODEL
from btp.replay import PriorityConfig
from btp.tasks import DatasetSpec
from btp.training.loop import TrainConfig


@dataclass
class ModelConfig:
    """Models.

    name: alias (see `btp models list`), local Hugging Face folder, or hub id of the model trained.
    teacher: model that writes the programs (alias, folder or hub id); empty = the model itself
        (self-improvement).
    dtype: float32 or bfloat16.
    device: cpu, cuda, cuda:1, ...
    """

    name: str = DEFAULT_MODEL
    teacher: str | None = None
    dtype: str = "float32"
    device: str = "cpu"


def _check_decoding(where: str, method: str, temperature: float, top_p: float) -> None:
    if method not in ("beam", "sample"):
        raise BtpError(f"config {where}.method: expected 'beam' or 'sample', got {method!r}")
    if not temperature > 0 or not 0 < top_p <= 1:
        raise BtpError(f"config {where}: needs temperature > 0 and 0 < top_p <= 1, got {temperature}, {top_p}")


@dataclass
class SamplingConfig:
    """Sampling of training programs (beam search by default).

    k: beams per task = programs per task.
    max_new_tokens: generation budget per program.
    batch_size: tasks per generate call (rows = batch_size * k).
    method: "beam" (the k best beams, the paper's choice) or "sample" (k independent temperature samples, the baseline).
    temperature: softmax temperature of method "sample".
    top_p: nucleus mass of method "sample" (1 = no truncation).
    """

    k: int = 3
    max_new_tokens: int = 384
    batch_size: int = 4
    method: str = "beam"
    temperature: float = 0.8
    top_p: float = 0.95

    def __post_init__(self) -> None:
        _check_decoding("sampling", self.method, self.temperature, self.top_p)
        if self.k < 1:
            raise BtpError(f"config sampling.k: must be >= 1, got {self.k}")


@dataclass
class EvalConfig:
    """Evaluation on the held-out tasks: greedy (n = 1) or n temperature samples per task.

    max_new_tokens: generation budget per program.
    batch_size: tasks per generate call.
    before: also evaluate the model before training.
    n: programs per task; 1 = greedy decoding, n > 1 = temperature samples (for unbiased pass@k).
    ks: the k of each pass@k reported (k <= n).
    temperature: softmax temperature when n > 1.
    top_p: nucleus mass when n > 1.
    """

    max_new_tokens: int = 384
    batch_size: int = 8
    before: bool = True
    n: int = 1
    ks: list[int] = field(default_factory=lambda: [1])
    temperature: float = 0.8
    top_p: float = 0.95

    def __post_init__(self) -> None:
        _check_decoding("eval", "sample", self.temperature, self.top_p)
        if self.n < 1 or any(not 1 <= k <= self.n for k in self.ks):
            raise BtpError(f"config eval: needs n >= 1 and every k in ks within 1..n, got n={self.n}, ks={self.ks}")


@dataclass
class RunConfig:
    """One BTP run.

    run_dir: where config, buffer, checkpoints and metrics go; a rerun resumes from it.
    rounds: sample -> test -> store -> train rounds; each round samples with the latest model.
    seed: seeds sampling of minibatches and training.
    train_tasks: datasets whose tasks are sampled, tested and trained on.
    eval_tasks: held-out datasets for the before/after table.
    init_buffer: start from a copy of this buffer.sqlite (another run's); rounds it already sampled with the same writer are not sampled again. For ablations over replay and training settings on one set of programs.
    """

    run_dir: str = "runs/demo"
    rounds: int = 1
    seed: int = 0
    init_buffer: str | None = None
    model: ModelConfig = field(default_factory=ModelConfig)
    train_tasks: list[DatasetSpec] = field(default_factory=lambda: [DatasetSpec("humaneval", fold="0/2")])
    eval_tasks: list[DatasetSpec] = field(default_factory=lambda: [DatasetSpec("humaneval", fold="1/2")])
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    execution: ExecConfig = field(default_factory=ExecConfig)
    replay: PriorityConfig = field(default_factory=PriorityConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


def load_config(path: str | Path) -> RunConfig:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except FileNotFoundError:
        raise BtpError(f"config file {p} not found") from None
    except yaml.YAMLError as e:
        raise BtpError(f"config file {p} is not valid YAML: {str(e).splitlines()[0]}") from None
    return from_dict(RunConfig, data)


def from_dict(cls, data: Any, where: str = ""):
    """Build dataclass ``cls`` from plain data, strictly."""
    if not isinstance(data, dict):
        raise BtpError(f"config {where or 'root'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise BtpError(f"config {where or 'root'}: unknown key {unknown[0]!r} (known: {', '.join(sorted(names))})")
    kwargs = {k: _convert(hints[k], v, f"{where}.{k}" if where else k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise BtpError(f"config {where or 'root'}: {e}") from None


def _convert(tp, value, where: str):
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, where)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise BtpError(f"config {where}: expected a list, got {type(value).__name__}")
        items = [_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if tp is bool:
        if not isinstance(value, bool):
            raise BtpError(f"config {where}: expected true or false, got {value!r}")
        return value
    if tp in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (tp is int and not float(value).is_integer()):
            raise BtpError(f"config {where}: expected {tp.__name__}, got {value!r}")
        return tp(value)
    if tp is str:
        if not isinstance(value, (str, int, float)):
            raise BtpError(f"config {where}: expected a string, got {value!r}")
        return str(value)
    return value


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def save_config(cfg: RunConfig, path: Path) -> None:
    path.write_text(yaml.safe_dump(_plain(to_dict(cfg)), sort_keys=False))


def _plain(obj):
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _field_help(cls) -> dict[str, str]:
    helps = {f.name: f.metadata["help"] for f in dataclasses.fields(cls) if "help" in f.metadata}
    doc = cls.__doc__ or ""
    for m in re.finditer(r"^\s*(\w+):\s+(.+(?:\n\s{6,}.+)*)", doc, re.M):
        helps.setdefault(m.group(1), " ".join(m.group(2).split()))
    return helps


def describe(cls=RunConfig, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, help) for every key, nested keys dotted; list items shown by their fields."""
    rows = []
    helps = _field_help(cls)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            rows += describe(tp, key + ".")
            continue
        inner = typing.get_args(tp)
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else "(required)")
        rows.append((key, _plain_default(default), helps.get(f.name, "")))
        if typing.get_origin(tp) is list and inner and dataclasses.is_dataclass(inner[0]):
            rows += describe(inner[0], key + "[].")
    return rows


def _plain_default(value) -> str:
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    if isinstance(value, list):
        value = [dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for v in value]
        value = [{k: v for k, v in d.items() if v is not None} if isinstance(d, dict) else d for d in value]
    return yaml.safe_dump(_plain(value), default_flow_style=True).strip().removesuffix("...").strip()
