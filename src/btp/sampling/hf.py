"""Hugging Face transformers beam search, batched across tasks (left padding, KV cache).

For each task the ``k`` returned beams become ``k`` programs. Per-token log-probabilities come from
``compute_transition_scores`` with the beam indices, so each program's likelihood is that of the
tokens that make up its code (see ``btp.sampling.types.Sample``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from btp.sampling.extract import extract
from btp.sampling.prompts import render_prompt
from btp.sampling.stops import StopAfterFence
from btp.sampling.types import Sample
from btp.tasks.types import Task


@dataclass
class HFSampler:
    model: object
    tokenizer: object
    name: str
    max_new_tokens: int = 384
    batch_size: int = 4  # tasks per generate call; rows = batch_size * k

    def sample(self, tasks: Sequence[Task], k: int) -> Iterator[list[Sample]]:
        for i in range(0, len(tasks), self.batch_size):
            yield from self._batch(tasks[i : i + self.batch_size], k)

    @torch.no_grad()
    def _batch(self, tasks: Sequence[Task], k: int) -> list[list[Sample]]:
        tok = self.tokenizer
        prompts = [render_prompt(t, tok) for t in tasks]
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = enc.to(self.model.device)
        prompt_len = enc["input_ids"].shape[1]
        eos = tok.eos_token_id
        gen_kwargs = dict(
            max_new_tokens=self.max_new_tokens,
            num_beams=k,
            num_return_sequences=k,
            do_sample=False,
            early_stopping=True,
            length_penalty=1.0,
            pad_token_id=tok.pad_token_id,
            eos_token_id=eos,
            logits_processor=[StopAfterFence(tok, prompt_len, eos)],
            output_scores=True,
            return_dict_in_generate=True,
        )
        if k == 1:
            gen_kwargs.update(num_beams=1, early_stopping=False)
        out = self.model.generate(**enc, **gen_kwargs)
        seqs = out.sequences[:, prompt_len:]
        if k == 1:
            token_lp = self.model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
        else:
            token_lp = self.model.compute_transition_scores(out.sequences, out.scores, out.beam_indices)
        results = []
        for ti, task in enumerate(tasks):
            samples = []
            for r in range(k):
                row = ti * k + r
                samples.append(self._to_sample(task, seqs[row], token_lp[row], r))
            results.append(samples)
        return results

    def _to_sample(self, task: Task, ids: torch.Tensor, lps: torch.Tensor, rank: int) -> Sample:
        tok = self.tokenizer
        special = set(tok.all_special_ids)
        keep = [(int(t), float(lp)) for t, lp in zip(ids.tolist(), lps.tolist()) if int(t) not in special]
        # character offset of each token in the decoded text, to map the code span back to tokens
        pieces, offsets, text = [], [], ""
        for t, _ in keep:
            offsets.append(len(text))
            pieces.append(t)
            text = tok.decode(pieces, skip_special_tokens=True)
        ex = extract(task, text)
        lp_sum, n = 0.0, 0
        for (t, lp), (start, end) in zip(keep, zip(offsets, offsets[1:] + [len(text)])):
            if end > ex.code_start and start < ex.code_end:
                lp_sum += lp
                n += 1
        return Sample(task.task_id, ex.program, lp_sum if n else None, n or None, self.name, text, rank)
