"""Stop rules per task kind, applied during generation per beam.

- Chat/instruct output: the answer is a fenced code block; once a beam has closed its first block
  (two ``` fences) nothing left is worth generating.
- Plain completions of a function prompt: the body ends where the model starts new top-level code
  (HumanEval's stop sequences).
- Plain completions of a stdio task: a closing fence, if the model writes one.

A stopped beam is ended by forcing EOS (a forced token adds log-prob 0); extraction then cuts the
text at the stop, so the stop sequence is never part of the program or of its likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import LogitsProcessor

from btp.sampling.prompts import is_stdio
from btp.tasks.types import Task

FUNCTION_STOPS = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\nassert ", "\n```")


@dataclass(frozen=True)
class StopRule:
    fences: int = 0  # stop once the generated text holds this many ``` (0: no fence rule)
    strings: tuple[str, ...] = ()  # stop once any of these appears in the generated text

    def done(self, text: str) -> bool:
        if self.fences and text.count("```") >= self.fences:
            return True
        return any(s in text for s in self.strings)

    def cut(self, text: str) -> str:
        """The text before the first stop string (fences are handled by code extraction)."""
        ends = [i for i in (text.find(s) for s in self.strings) if i >= 0]
        return text[: min(ends)] if ends else text


def stop_rule(task: Task, chat: bool) -> StopRule:
    if chat:
        return StopRule(fences=2)
    if is_stdio(task) or not task.entry_point:
        return StopRule(strings=("\n```",))
    return StopRule(strings=FUNCTION_STOPS)


class StopAfterFence(LogitsProcessor):
    """For ``model.generate``: force EOS on rows whose generated text contains a closed code block.

    Decodes every row at every step; ``btp.sampling.beam`` applies the same rule incrementally.
    Kept for baselines and for callers that use ``generate`` directly.
    """

    def __init__(self, tokenizer, prompt_len: int, eos_token_id: int, *, fences: int = 2):
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.eos = eos_token_id
        self.fences = fences

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        generated = input_ids[:, self.prompt_len :]
        if generated.shape[1] == 0:
            return scores
        texts = self.tokenizer.batch_decode(generated, skip_special_tokens=True)
        done = [t.count("```") >= self.fences for t in texts]
        if any(done):
            rows = torch.tensor(done, device=scores.device)
            forced = torch.full_like(scores[0], float("-inf"))
            forced[self.eos] = 0.0
            scores = torch.where(rows[:, None], forced[None, :], scores)
        return scores
