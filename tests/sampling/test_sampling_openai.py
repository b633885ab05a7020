"""The openai backend against a real OpenAI-compatible HTTP server on 127.0.0.1 (started here) that
serves a real Hugging Face model and returns real per-token log-probs and bytes."""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.convert_slow_tokenizer import bytes_to_unicode

from btp.errors import BtpError
from btp.sampling.openai import OpenAISampler, code_logprob
from btp.tasks.types import AssertTest, Task

TASK = Task("t/0", 'def add(a, b):\n    """Add two numbers."""\n', (AssertTest("assert candidate(1, 2) == 3"),), entry_point="add")


def make_server(model, tok, *, logprobs=True, fail_first=0):
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    state = {"fails": fail_first, "requests": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            state["requests"] += 1
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if state["fails"] > 0:
                state["fails"] -= 1
                self.send_response(503)
                self.end_headers()
                return
            prompt = tok.apply_chat_template(body["messages"], tokenize=False, add_generation_prompt=True)
            ids = tok(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
            choices = []
            for i in range(body.get("n", 1)):
                torch.manual_seed(i)
                out = model.generate(ids, max_new_tokens=body["max_tokens"], do_sample=True, temperature=1.0,
                                     output_scores=True, return_dict_in_generate=True, pad_token_id=tok.eos_token_id)
                gen = out.sequences[0, ids.shape[1]:].tolist()
                lps = [float(torch.log_softmax(s[0].float(), -1)[t]) for s, t in zip(out.scores, gen)]
                keep = [(t, lp) for t, lp in zip(gen, lps) if t != tok.eos_token_id]
                content = tok.decode([t for t, _ in keep])
                entries = [{"token": tok.convert_ids_to_tokens(t), "logprob": lp,
                            "bytes": [byte_of[c] for c in tok.convert_ids_to_tokens(t)]} for t, lp in keep]
                choice = {"index": i, "message": {"role": "assistant", "content": content}}
                if logprobs and body.get("logprobs"):
                    choice["logprobs"] = {"content": entries}
                choices.append(choice)
            data = json.dumps({"object": "chat.completion", "choices": choices}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, state


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval(), AutoTokenizer.from_pretrained(tiny_model_dir)


def url(srv):
    return f"http://127.0.0.1:{srv.server_address[1]}/v1"


def test_k_programs_with_the_servers_logprobs_over_the_code(tiny):
    model, tok = tiny
    srv, _ = make_server(model, tok)
    try:
        out = list(OpenAISampler(url(srv), "tiny", max_tokens=8, concurrency=2).sample([TASK, TASK], 3))
    finally:
        srv.shutdown()
    assert len(out) == 2 and all(len(s) == 3 for s in out)
    for samples in out:
        assert [s.beam_rank for s in samples] == [0, 1, 2]
        means = [s.logprob_mean for s in samples if s.logprob_mean is not None]
        assert means == sorted(means, reverse=True)
        for s in samples:
            if s.n_tokens:  # every token of a fenceless answer is code unless prose was trimmed
                assert s.logprob_sum < 0 and s.n_tokens <= s.n_generated


def test_missing_logprobs_are_recorded_as_missing(tiny):
    model, tok = tiny
    srv, _ = make_server(model, tok, logprobs=False)
    try:
        (samples,) = list(OpenAISampler(url(srv), "tiny", max_tokens=6).sample([TASK], 2))
    finally:
        srv.shutdown()
    assert all(s.logprob_sum is None and s.n_tokens is None for s in samples)


def test_retries_with_backoff_then_gives_a_one_line_error(tiny):
    model, tok = tiny
    srv, state = make_server(model, tok, fail_first=2)
    try:
        (samples,) = list(OpenAISampler(url(srv), "tiny", max_tokens=4, backoff=0.01).sample([TASK], 1))
        assert len(samples) == 1 and state["requests"] == 3
        state["fails"] = 10
        with pytest.raises(BtpError, match="no answer after 3 tries"):
            list(OpenAISampler(url(srv), "tiny", max_tokens=4, retries=2, backoff=0.01).sample([TASK], 1))
    finally:
        srv.shutdown()


def test_code_logprob_covers_code_tokens_and_refuses_tokens_that_do_not_spell_the_text():
    toks = [{"token": "```", "logprob": -0.1}, {"token": "\nx", "logprob": -1.0}, {"token": "=1", "logprob": -2.0},
            {"token": "\n```", "logprob": -0.5}]
    text = "```\nx=1\n```"
    assert code_logprob(text, toks, 4, 7) == (-3.0, 2, 4)
    assert code_logprob("other", toks, 0, 3) == (None, None, 4)
    assert code_logprob(text, None, 0, 3) == (None, None, 0)


def test_vllm_backend_is_imported_only_when_chosen():
    import btp.sampling.vllm as v

    assert "vllm" not in sys.modules
    assert v.beam_params(3, 100) == {"beam_width": 3, "max_tokens": 100, "length_penalty": 1.0, "ignore_eos": False}
    with pytest.raises(BtpError, match="optional extra"):
        v.VLLMSampler.load("x")
