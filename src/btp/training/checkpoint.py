"""Resumable checkpoints: model, optimizer, scheduler, RNG (via accelerate), sampler state and step.

Layout of one checkpoint: ``<dir>/step-00000012/`` with accelerate's files (weights, optimizer,
scheduler, ``random_states_<rank>.pkl``), ``sampler-<rank>.json`` per process, and ``trainer.json``
(step and the config's trajectory fields), written last. Every process writes into
``step-N.partial``; the main process renames it once all have finished, so a run killed with -9
mid-save leaves only a ``.partial`` folder, which is ignored and removed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from btp.errors import BtpError

TRAINER_FILE = "trainer.json"


def step_dir(root: Path, step: int) -> Path:
    return root / f"step-{step:08d}"


def complete_checkpoints(root: Path) -> list[tuple[int, Path]]:
    """(step, folder) of every finished checkpoint under ``root``, oldest first."""
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        if p.is_dir() and p.name.startswith("step-") and p.name[5:].isdigit() and (p / TRAINER_FILE).exists():
            found.append((int(p.name[5:]), p))
    return sorted(found)


def save(accelerator, root: Path, step: int, trajectory: dict, source, keep: int) -> Path:
    """Write checkpoint ``step`` (collective: every process calls it); keep the ``keep`` latest."""
    final = step_dir(root, step)
    tmp = final.with_name(final.name + ".partial")
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    state = source.state_dict() if hasattr(source, "state_dict") else {}
    (tmp / f"sampler-{accelerator.process_index}.json").write_text(json.dumps(state))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / TRAINER_FILE).write_text(json.dumps({"step": step, "world_size": accelerator.num_processes,
                                                    "config": trajectory}, indent=1))
        shutil.rmtree(final, ignore_errors=True)
        tmp.replace(final)
        for _, old in complete_checkpoints(root)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def load_latest(accelerator, root: Path, trajectory: dict, source) -> int:
    """Restore the newest finished checkpoint under ``root``; returns its step (0 when none)."""
    if accelerator.is_main_process and root.is_dir():
        for p in root.glob("step-*.partial"):
            shutil.rmtree(p, ignore_errors=True)
    found = complete_checkpoints(root)
    if not found:
        return 0
    step, path = found[-1]
    meta = json.loads((path / TRAINER_FILE).read_text())
    if meta["config"] != trajectory:
        diff = sorted(k for k in set(meta["config"]) | set(trajectory) if meta["config"].get(k) != trajectory.get(k))
        raise BtpError(f"checkpoint {path} was written with other training settings ({', '.join(diff)}); "
                       f"use the same settings or another checkpoint folder")
    if meta["world_size"] != accelerator.num_processes:
        raise BtpError(f"checkpoint {path} was written by {meta['world_size']} processes, "
                       f"this run has {accelerator.num_processes}")
    accelerator.load_state(str(path))
    sampler = path / f"sampler-{accelerator.process_index}.json"
    if hasattr(source, "load_state_dict"):
        source.load_state_dict(json.loads(sampler.read_text()))
    return step
