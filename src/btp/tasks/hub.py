"""Fetching raw rows from the Hugging Face hub via the optional ``datasets`` package.

Only used when a dataset is named without a local path. Imported lazily; offline or without
``datasets`` installed, the user gets a one-line BtpError telling them to pass ``--path``.
(This module cannot be exercised in the offline test environment; keep it small.)
"""

from __future__ import annotations

from typing import Iterator

from btp.errors import BtpError
from btp.tasks.rows import Row


def hub_rows(hub_id: str, split: str, config: str | None = None) -> Iterator[Row]:
    """Yield the rows of one split of a hub dataset, each tagged ``"hub_id[split] row i"``."""
    try:
        import datasets  # optional dependency
    except ImportError:
        raise BtpError(
            f"loading {hub_id!r} from the hub needs the 'datasets' package "
            "(pip install datasets); or give a local --path"
        ) from None
    try:
        ds = datasets.load_dataset(hub_id, config, split=split)
    except Exception as e:  # network, auth, missing split: all end as one user-facing line
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise BtpError(f"cannot load hub dataset {hub_id!r} split {split!r} (offline?): {first}") from None
    for i, row in enumerate(ds):
        yield Row(f"{hub_id}[{split}] row {i}", dict(row))
