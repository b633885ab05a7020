"""Any OpenAI-compatible chat endpoint (OpenAI, a vLLM server, llama.cpp's server) as a teacher.

Standard library only (``urllib``): no client package needed. Servers do not run beam search, so
the k programs of a task are the server's ``n = k`` completions (one request; more single requests
if it returns fewer), ranked by mean token log-prob when it gives log-probs. Log-probs come from
``logprobs: true``; the tokens covering the extracted code are those whose bytes overlap its
characters. A server that gives none, or tokens that do not spell the returned text, gets
``logprob_sum = None``: recorded as missing, never invented. Requests run ``concurrency`` at a
time with a timeout and retries with exponential backoff on 429, 5xx and connection errors.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator, Sequence

from btp.errors import BtpError
from btp.sampling.extract import extract
from btp.sampling.prompts import user_message
from btp.sampling.stops import StopRule
from btp.sampling.types import Sample
from btp.tasks.types import Task

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


@dataclass
class OpenAISampler:
    base_url: str
    model: str
    max_tokens: int = 384
    concurrency: int = 4
    timeout: float = 120.0
    retries: int = 4
    backoff: float = 1.0
    temperature: float | None = None  # None: 0 for k == 1, else 0.8
    api_key: str | None = None

    @property
    def name(self) -> str:
        return self.model

    def sample(self, tasks: Sequence[Task], k: int) -> Iterator[list[Sample]]:
        with ThreadPoolExecutor(max(1, self.concurrency)) as pool:
            yield from pool.map(lambda t: self._task(t, k), tasks)

    def _task(self, task: Task, k: int) -> list[Sample]:
        choices: list[dict] = []
        for _ in range(3):
            if len(choices) >= k:
                break
            body = self.request_body(task, k - len(choices), k)
            choices += self._post("/chat/completions", body).get("choices", [])
        rule = StopRule(fences=2)
        samples = [self._to_sample(task, c, rule) for c in choices[:k]]
        samples.sort(key=lambda s: -(s.logprob_mean if s.logprob_mean is not None else float("-inf")))
        return [Sample(s.task_id, s.program, s.logprob_sum, s.n_tokens, s.model, s.raw, r, s.n_generated)
                for r, s in enumerate(samples)]

    def request_body(self, task: Task, n: int, k: int) -> dict:
        temp = self.temperature if self.temperature is not None else (0.0 if k == 1 else 0.8)
        return {"model": self.model, "messages": [{"role": "user", "content": user_message(task)}],
                "max_tokens": self.max_tokens, "n": n, "temperature": temp, "logprobs": True}

    def _post(self, path: str, body: dict) -> dict:
        key = self.api_key or os.environ.get("OPENAI_API_KEY")
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        url = self.base_url.rstrip("/") + path
        last = ""
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as r:
                    return json.loads(r.read())
            except urllib.error.HTTPError as e:
                last = f"HTTP {e.code}"
                if e.code not in RETRY_STATUS:
                    raise BtpError(f"{url}: {last}: {e.read()[:200].decode(errors='replace')}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                last = str(getattr(e, "reason", e))
            if attempt < self.retries:
                time.sleep(self.backoff * 2**attempt)
        raise BtpError(f"{url}: no answer after {self.retries + 1} tries ({last})")

    def _to_sample(self, task: Task, choice: dict, rule: StopRule) -> Sample:
        text = (choice.get("message") or {}).get("content") or ""
        ex = extract(task, rule.cut(text))
        lp, n, total = code_logprob(text, (choice.get("logprobs") or {}).get("content"), ex.code_start, ex.code_end)
        return Sample(task.task_id, ex.program, lp, n, self.model, text, 0, n_generated=total)


def code_logprob(text: str, tokens: list[dict] | None, start: int, end: int) -> tuple[float | None, int | None, int]:
    """(sum, count) of log-probs of the tokens overlapping characters [start, end); None when unusable."""
    if not tokens:
        return None, None, 0
    raw, offsets = b"", []
    for t in tokens:
        if t.get("logprob") is None:
            return None, None, len(tokens)
        b = bytes(t["bytes"]) if t.get("bytes") is not None else t.get("token", "").encode()
        s0 = len(raw.decode("utf-8", errors="ignore"))
        raw += b
        offsets.append((s0, len(raw.decode("utf-8", errors="ignore"))))
    if raw.decode("utf-8", errors="replace") != text:
        return None, None, len(tokens)  # tokens do not spell the text: do not guess
    picked = [t["logprob"] for t, (s0, s1) in zip(tokens, offsets) if s1 > start and s0 < end]
    if not picked:
        return None, None, len(tokens)
    return float(sum(picked)), len(picked), len(tokens)
