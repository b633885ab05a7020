import pytest

from btp.config import RunConfig, describe, load_config, save_config
from btp.errors import BtpError


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_yaml_nested_keys_and_dataset_lists(tmp_path):
    cfg = load_config(write(tmp_path, """
run_dir: runs/x
model: {name: some/folder, teacher: qwen2.5-coder-0.5b-instruct}
train_tasks: [{name: mbpp, path: /d/mbpp.jsonl, split: train, limit: 10}]
replay: {alpha: 0.25, mode: rank, exponent: 2}
train: {steps: 3, lr: 0.001}
sampling: {k: 5}
"""))
    assert cfg.model.teacher == "qwen2.5-coder-0.5b-instruct"
    assert cfg.train_tasks[0].split == "train" and cfg.train_tasks[0].limit == 10
    assert cfg.replay.mode == "rank" and cfg.replay.exponent == 2.0
    assert cfg.train.steps == 3 and cfg.sampling.k == 5
    assert cfg.eval_tasks == RunConfig().eval_tasks


@pytest.mark.parametrize("text, needle", [
    ("trian: {steps: 3}", "unknown key 'trian'"),
    ("train: {steps: three}", "train.steps: expected int"),
    ("train: {stepz: 1}", "config train: unknown key 'stepz'"),
    ("replay: {mode: bogus}", "unknown priority mode 'bogus'"),
    ("replay: {alpha: 2}", "alpha must be in [0, 1]"),
    ("eval: {before: 1}", "eval.before: expected true or false"),
    ("train_tasks: {name: x}", "train_tasks: expected a list"),
    ("model: [1, 2", "not valid YAML"),
    ("sampling: {method: greedy}", "sampling.method: expected 'beam' or 'sample'"),
    ("sampling: {method: sample, temperature: 0}", "needs temperature > 0"),
    ("eval: {n: 2, ks: [1, 3]}", "every k in ks within 1..n"),
])
def test_bad_config_is_one_line_error_naming_the_key(tmp_path, text, needle):
    with pytest.raises(BtpError) as e:
        load_config(write(tmp_path, text))
    assert needle in str(e.value)
    assert "\n" not in str(e.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(BtpError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_save_then_load_round_trips(tmp_path):
    cfg = RunConfig(run_dir="runs/y", rounds=2)
    save_config(cfg, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg


def test_describe_documents_every_leaf_key():
    rows = {key: text for key, _, text in describe()}
    for key in ("run_dir", "model.teacher", "sampling.k", "replay.alpha", "replay.mode", "replay.exponent",
                "train.steps", "train.batch_size", "seed", "train_tasks", "train_tasks[].fold", "execution.timeout"):
        assert key in rows, key
        assert rows[key], f"{key} has no help"
