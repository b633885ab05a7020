"""Hugging Face transformers beam search, continuously batched across tasks (see ``beam.py``).

For each task the ``k`` best beams become ``k`` programs. Each program's likelihood is the sum of
the log-probs of the generated tokens that make up its code (``likelihood.token_span`` after stop
trimming and code extraction); the same numbers a teacher-forced pass over those tokens gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Sequence

from btp.sampling.beam import BeamSearch, Hypothesis
from btp.sampling.sample import Sampling
from btp.sampling.extract import extract
from btp.sampling.likelihood import token_span
from btp.sampling.prompts import render_prompt
from btp.sampling.stops import StopRule, stop_rule
from btp.sampling.types import Sample
from btp.tasks.types import Task

ENGINES = {"beam": BeamSearch, "sample": Sampling}  # HFSampler.method -> decoding engine


@dataclass
class HFSampler:
    model: object
    tokenizer: object
    name: str
    max_new_tokens: int = 384
    batch_size: int = 4  # tasks decoded together; rows per forward pass = batch_size * k
    method: str = "beam"  # "beam": the k best beams; "sample": k independent temperature samples
    temperature: float = 0.8  # method "sample" only
    top_p: float = 0.95  # method "sample" only
    seed: int = 0  # method "sample" only
    stats: dict = field(default_factory=dict)

    def _engine(self, k: int):
        if self.method not in ENGINES:
            raise ValueError(f"unknown sampling method {self.method!r} (known: {', '.join(ENGINES)})")
        extra = {"temperature": self.temperature, "top_p": self.top_p, "seed": self.seed} if self.method == "sample" else {}
        return ENGINES[self.method](self.model, eos_id=self.tokenizer.eos_token_id, k=k,
                                    max_new_tokens=self.max_new_tokens, slots=max(1, self.batch_size),
                                    piece=self._piece, **extra)

    def sample(self, tasks: Sequence[Task], k: int) -> Iterator[list[Sample]]:
        """Yield each task's k programs as soon as they finish (completion order).

        Beams come best first; samples in the order drawn."""
        tok = self.tokenizer
        chat = bool(getattr(tok, "chat_template", None))
        prompts = [tok(render_prompt(t, tok), add_special_tokens=False)["input_ids"] for t in tasks]
        rules = [stop_rule(t, chat) for t in tasks]
        engine = self._engine(k)
        self.stats = {"decode_steps": 0, "generated_tokens": 0}
        for i, hyps in engine.run(prompts, rules):
            samples = [self._to_sample(tasks[i], h, r, rules[i]) for r, h in enumerate(hyps)]
            self.stats["decode_steps"] = engine.steps
            self.stats["generated_tokens"] += sum(s.n_generated for s in samples)
            yield samples

    def _piece(self, token_id: int) -> str:
        pieces = self.__dict__.setdefault("_pieces", {})
        if token_id not in pieces:
            pieces[token_id] = self.tokenizer.decode([token_id], skip_special_tokens=True)
        return pieces[token_id]

    def _to_sample(self, task: Task, hyp: Hypothesis, rank: int, rule: StopRule) -> Sample:
        text = self.tokenizer.decode(hyp.tokens, skip_special_tokens=True)
        ex = extract(task, rule.cut(text))
        i0, i1 = token_span(self.tokenizer, hyp.tokens, ex.code_start, ex.code_end)
        n = i1 - i0
        lp = float(sum(hyp.logprobs[i0:i1])) if n else None
        return Sample(task.task_id, ex.program, lp, n or None, self.name, text, rank, n_generated=len(hyp.tokens))
