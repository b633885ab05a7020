"""Models: alias registry (packaged GGUF -> HF folder cache) and loading by alias, folder or hub id."""

from btp.models.load import load_model, resolve
from btp.models.pull import pull
from btp.models.registry import DEFAULT_MODEL, PACKAGED

__all__ = ["DEFAULT_MODEL", "PACKAGED", "load_model", "pull", "resolve"]
