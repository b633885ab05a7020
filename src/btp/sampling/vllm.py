"""vLLM beam search (optional extra ``btp[vllm]``, GPU): ``LLM.beam_search`` with cumulative log-probs.

vLLM is imported only when this backend is chosen. Each beam's per-token log-probs come from the
returned sequence's ``logprobs``; the program's likelihood covers the tokens of its code span, as
for the ``hf`` backend. Only the argument mapping is unit-tested here (no GPU in CI).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

from btp.errors import BtpError
from btp.sampling.extract import extract
from btp.sampling.likelihood import token_span
from btp.sampling.prompts import render_prompt
from btp.sampling.stops import stop_rule
from btp.sampling.types import Sample
from btp.tasks.types import Task


def beam_params(k: int, max_new_tokens: int) -> dict:
    """Keyword arguments of vllm.sampling_params.BeamSearchParams matching the hf backend's search."""
    return {"beam_width": k, "max_tokens": max_new_tokens, "length_penalty": 1.0, "ignore_eos": False}


@dataclass
class VLLMSampler:
    llm: object
    tokenizer: object
    name: str
    max_new_tokens: int = 384

    @classmethod
    def load(cls, model: str, *, dtype: str = "bfloat16", max_new_tokens: int = 384) -> "VLLMSampler":
        try:
            from vllm import LLM
        except ImportError:
            raise BtpError("the vllm backend needs the optional extra: pip install 'btp[vllm]' (GPU)") from None
        from btp.models import resolve

        llm = LLM(model=resolve(model), dtype=dtype)
        return cls(llm, llm.get_tokenizer(), model, max_new_tokens)

    def sample(self, tasks: Sequence[Task], k: int) -> Iterator[list[Sample]]:
        from vllm.sampling_params import BeamSearchParams

        chat = bool(getattr(self.tokenizer, "chat_template", None))
        prompts = [{"prompt": render_prompt(t, self.tokenizer)} for t in tasks]
        outs = self.llm.beam_search(prompts, BeamSearchParams(**beam_params(k, self.max_new_tokens)))
        for task, out in zip(tasks, outs):
            rule = stop_rule(task, chat)
            yield [self._to_sample(task, seq, r, rule) for r, seq in enumerate(out.sequences[:k])]

    def _to_sample(self, task: Task, seq, rank: int, rule) -> Sample:
        n_prompt = len(self.tokenizer(render_prompt(task, self.tokenizer), add_special_tokens=False)["input_ids"])
        gen = list(seq.tokens[n_prompt:])
        lps = [next(iter(d.values())).logprob if len(d) == 1 else d[t].logprob
               for t, d in zip(gen, (seq.logprobs or [])[-len(gen):])] if gen else []
        if gen and gen[-1] == self.tokenizer.eos_token_id:
            gen, lps = gen[:-1], lps[:-1]
        text = self.tokenizer.decode(gen, skip_special_tokens=True)
        ex = extract(task, rule.cut(text))
        i0, i1 = token_span(self.tokenizer, gen, ex.code_start, ex.code_end)
        ok = len(lps) == len(gen) and i1 > i0
        return Sample(task.task_id, ex.program, float(sum(lps[i0:i1])) if ok else None, (i1 - i0) if ok else None,
                      self.name, text, rank, n_generated=len(gen))
