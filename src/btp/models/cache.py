"""Where btp keeps converted models: ``$BTP_HOME`` or the user cache dir."""

from __future__ import annotations

import os
from pathlib import Path


def btp_home() -> Path:
    env = os.environ.get("BTP_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("btp"))


def model_dir(alias: str) -> Path:
    return btp_home() / "models" / alias
