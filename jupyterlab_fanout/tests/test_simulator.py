"""The vLLM simulator over real sockets: wire format, control API, faults, cancellation."""
from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import aiohttp
import pytest

from jupyterlab_fanout.simulator import SimulatorSettings, serve
from jupyterlab_fanout.tests.processes import simulator_fixtures
from jupyterlab_fanout.tests.sse import count_events, sse_events, sse_text

FAST = {"tokens_per_second": 5000, "ttft_ms": 1}
USAGE_ALL = {"include_usage": True, "continuous_usage_stats": True}
MESSAGES = [{"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Write a mean function in Python"}]
PROMPT_TOKENS = 2 + 6 + 2 * 4  # whitespace words + 4 per message


def chat_body(**extra: Any) -> Dict[str, Any]:
    return {"model": "fanout-sim", "messages": MESSAGES, "max_tokens": 1000, **extra}


@dataclass
class Stream:
    """A whole streamed response, split into SSE events."""

    status: int
    content_type: str
    raw: bytes
    events: List[Any]  # parsed JSON objects, then "[DONE]" if it came

    @property
    def chunks(self) -> List[Dict[str, Any]]:
        return [e for e in self.events if isinstance(e, dict)]

    @property
    def content_chunks(self) -> List[Dict[str, Any]]:
        return [c for c in self.chunks if c.get("choices")]

    def text(self, field: str) -> str:
        return "".join(c["choices"][0]["delta"].get(field, "") for c in self.content_chunks)


async def stream_chat(sim, body: Dict[str, Any], headers: Optional[Dict[str, str]] = None
                      ) -> Stream:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{sim.base_url}/chat/completions",
                                json={"stream": True, **body}, headers=headers) as resp:
            raw = await resp.read()
            events = sse_events(raw, strict=True) if resp.status == 200 else []
            return Stream(resp.status, resp.headers.get("Content-Type", ""), raw, events)


async def post_json(url: str, body: Any, headers: Optional[Dict[str, str]] = None):
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=body, headers=headers) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), await resp.read()


# -- /v1/models and the control API ------------------------------------------------------

async def test_models_lists_the_served_models(simulator):
    simulator.configure(models=["other-model"], max_model_len=4096)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{simulator.base_url}/models") as resp:
            assert resp.status == 200
            body = await resp.json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["fanout-sim", "other-model"]
    card = body["data"][0]
    assert card["object"] == "model" and card["owned_by"] == "vllm"
    assert card["root"] == "fanout-sim" and card["max_model_len"] == 4096
    assert isinstance(card["created"], int)


async def test_config_rejects_unknown_keys_and_bad_values_and_reset_restores(simulator):
    for change, named in [({"no_such_knob": 1}, "no_such_knob"),
                          ({"tokens_per_second": 0}, "tokens_per_second"),
                          ({"reasoning_format": "xml"}, "reasoning_format"),
                          ({"faults": [{"kind": "drop", "afterTokens": 2}]}, "afterTokens")]:
        status, _, raw = await post_json(simulator.url + "/simulator/config", change)
        assert status == 400 and named in json.loads(raw)["error"]
    assert simulator.configure(answer_tokens=7)["answer_tokens"] == 7
    simulator.reset()
    assert simulator._call("GET", "/simulator/config") == SimulatorSettings().to_dict()


def test_settings_round_trip():
    settings = SimulatorSettings.from_dict(
        {"model": "m", "faults": [{"kind": "stall", "after_tokens": 3, "stall_ms": 50}]})
    assert SimulatorSettings.from_dict(settings.to_dict()) == settings
    assert settings.faults[0].times is None


cli_simulator = simulator_fixtures(
    "cli_simulator", "--model", "cli-model", "--reasoning-format", "none",
    "--tokens-per-event", "3", "--api-key", "k", "--error-format", "legacy",
    "--dialect", "llamacpp", scope="function", reset=None,
)


def test_cli_arguments_become_the_start_up_settings(cli_simulator):
    config = cli_simulator._call("GET", "/simulator/config")
    assert (config["model"], config["reasoning_format"], config["tokens_per_event"],
            config["api_key"], config["error_format"], config["dialect"]) == \
        ("cli-model", "none", 3, "k", "legacy", "llamacpp")


async def test_serve_runs_in_process():
    server, port = serve({"model": "inproc", "answer_tokens": 5, **FAST})
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/v1/models") as resp:
                assert (await resp.json())["data"][0]["id"] == "inproc"
            async with session.post(f"http://127.0.0.1:{port}/v1/chat/completions",
                                    json={"messages": MESSAGES}) as resp:
                body = await resp.json()
        assert body["usage"]["completion_tokens"] == 5 + 40
    finally:
        server.stop()


# -- the stream --------------------------------------------------------------------------

async def test_stream_shape_usage_and_record(simulator):
    simulator.configure(**FAST, reasoning_tokens=10, answer_tokens=60)
    stream = await stream_chat(simulator, chat_body(stream_options=USAGE_ALL),
                               headers={"Authorization": "Bearer abc", "Cookie": "c=1",
                                        "X-Forwarded-For": "10.0.0.1"})
    assert stream.status == 200 and stream.content_type.startswith("text/event-stream")
    assert stream.events[-1] == "[DONE]" and stream.events.count("[DONE]") == 1
    chunks = stream.chunks
    completion_id = chunks[0]["id"]
    assert completion_id.startswith("chatcmpl-")
    for chunk in chunks:
        assert chunk["id"] == completion_id and chunk["model"] == "fanout-sim"
        assert chunk["object"] == "chat.completion.chunk" and isinstance(chunk["created"], int)
    first = chunks[0]["choices"][0]
    assert first == {"index": 0, "delta": {"role": "assistant", "content": ""},
                     "logprobs": None, "finish_reason": None}
    last = stream.content_chunks[-1]["choices"][0]
    assert last["delta"]["content"] and last["finish_reason"] == "stop"
    assert "stop_reason" in last and last["stop_reason"] is None
    for chunk in stream.content_chunks[1:-1]:
        choice = chunk["choices"][0]
        assert choice["finish_reason"] is None and "stop_reason" not in choice
        assert None not in choice["delta"].values() and "role" not in choice["delta"]
    # Usage: on every chunk, running, and a final usage-only chunk.
    final = chunks[-1]
    assert final["choices"] == []
    assert final["usage"] == {"prompt_tokens": PROMPT_TOKENS, "total_tokens": PROMPT_TOKENS + 70,
                              "completion_tokens": 70,
                              "completion_tokens_details": {"reasoning_tokens": 10}}
    counts = [c["usage"]["completion_tokens"] for c in chunks]
    assert counts == [0, *range(1, 71), 70]
    # The record agrees with what went over the wire.
    [record] = simulator.requests()
    assert record["id"] == completion_id and record["outcome"] == "completed"
    assert record["completion_tokens_sent"] == 70 == final["usage"]["completion_tokens"]
    assert record["content"] == stream.text("content")
    assert record["reasoning"] == stream.text("reasoning")
    assert record["finish_reason"] == "stop" and record["disconnected"] is False
    assert record["stream"] is True and record["stream_options"] == USAGE_ALL
    assert record["messages_count"] == 2 and record["prompt_tokens"] == PROMPT_TOKENS
    assert record["headers"]["authorization"] == "Bearer abc"
    assert record["headers"]["cookie"] == "c=1"
    assert record["headers"]["x-forwarded-for"] == "10.0.0.1"
    assert record["started_at"] <= record["first_token_at"] <= record["ended_at"]


async def test_usage_only_when_asked(simulator):
    simulator.configure(**FAST, answer_tokens=10, reasoning_tokens=0)
    plain = await stream_chat(simulator, chat_body())
    assert all("usage" not in c for c in plain.chunks)
    final_only = await stream_chat(simulator, chat_body(stream_options={"include_usage": True}))
    assert [("usage" in c) for c in final_only.chunks] == [False] * 11 + [True]
    assert final_only.chunks[-1]["usage"] == {
        "prompt_tokens": PROMPT_TOKENS, "total_tokens": PROMPT_TOKENS + 10,
        "completion_tokens": 10}


async def test_tokens_per_event_groups_tokens(simulator):
    simulator.configure(**FAST, answer_tokens=30, reasoning_tokens=5, tokens_per_event=4)
    stream = await stream_chat(simulator, chat_body(stream_options=USAGE_ALL))
    counts = [c["usage"]["completion_tokens"] for c in stream.content_chunks]
    assert counts == [0, 4, 8, 12, 16, 20, 24, 28, 32, 35]
    # The event straddling the end of the reasoning carries both fields.
    mixed = stream.content_chunks[2]["choices"][0]["delta"]
    assert mixed["reasoning"] and mixed["content"]


@pytest.mark.parametrize("reasoning_format", ["reasoning", "reasoning_content", "both",
                                              "think", "none"])
async def test_reasoning_formats(simulator, reasoning_format):
    simulator.configure(**FAST, reasoning_tokens=8, answer_tokens=20,
                        reasoning_format=reasoning_format)
    stream = await stream_chat(simulator, chat_body(seed=5, stream_options=USAGE_ALL))
    deltas = [c["choices"][0]["delta"] for c in stream.content_chunks[1:]]
    with_reasoning = [d for d in deltas if "reasoning" in d or "reasoning_content" in d]
    usage = stream.chunks[-1]["usage"]
    if reasoning_format in ("reasoning", "reasoning_content", "both"):
        assert len(with_reasoning) == 8 and deltas.index(with_reasoning[-1]) == 7
        if reasoning_format == "both":
            assert all(d["reasoning"] == d["reasoning_content"] for d in with_reasoning)
        else:
            other = {"reasoning": "reasoning_content",
                     "reasoning_content": "reasoning"}[reasoning_format]
            assert all(reasoning_format in d and other not in d for d in with_reasoning)
        assert usage["completion_tokens"] == 28
        assert usage["completion_tokens_details"] == {"reasoning_tokens": 8}
        assert not stream.text("content").startswith("<think>")
    else:
        assert with_reasoning == [] and "completion_tokens_details" not in usage
    content = stream.text("content")
    if reasoning_format == "think":
        assert content.startswith("<think>") and content.count("</think>\n\n") == 1
        assert usage["completion_tokens"] == 8 + 3 + 20
    if reasoning_format == "none":
        assert "<think>" not in content and usage["completion_tokens"] == 20


async def test_same_seed_same_text_other_seed_other_text(simulator):
    simulator.configure(**FAST)
    first = await stream_chat(simulator, chat_body(seed=42))
    again = await stream_chat(simulator, chat_body(seed=42))
    other = await stream_chat(simulator, chat_body(seed=43))
    unseeded = [await stream_chat(simulator, chat_body()) for _ in range(2)]
    assert first.text("content") == again.text("content")
    assert first.text("reasoning") == again.text("reasoning")
    assert first.text("content").encode() == again.text("content").encode()
    assert first.text("content") != other.text("content")
    assert unseeded[0].text("content") != unseeded[1].text("content")
    simulator.configure(seed=1)
    assert (await stream_chat(simulator, chat_body(seed=42))).text("content") \
        != first.text("content")


async def test_answers_look_like_markdown_and_exercise_parsers(simulator):
    simulator.configure(**FAST, reasoning_tokens=0, answer_tokens=120)
    texts = [(await stream_chat(simulator, chat_body(seed=s))).text("content") for s in range(8)]
    assert all("```python\n" in t and "\n\n" in t for t in texts)
    joined = "".join(texts)
    assert any(ord(ch) > 0x7F for ch in joined) and any(ord(ch) > 0xFFFF for ch in joined)
    assert "\\n" in joined  # a literal backslash followed by n
    assert "n\n" in joined and '{"' in joined


async def test_max_tokens_cuts_with_length(simulator):
    simulator.configure(**FAST, reasoning_tokens=10, answer_tokens=50)
    stream = await stream_chat(simulator, chat_body(max_tokens=25, stream_options=USAGE_ALL))
    last = stream.content_chunks[-1]["choices"][0]
    assert last["finish_reason"] == "length" and last["delta"]["content"]
    assert stream.chunks[-1]["usage"]["completion_tokens"] == 25
    assert simulator.requests()[0]["completion_tokens_sent"] == 25
    status, _, raw = await post_json(f"{simulator.base_url}/chat/completions",
                                     chat_body(max_completion_tokens=5))
    body = json.loads(raw)
    assert status == 200 and body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 5


async def test_continue_final_message_continues_a_cut_off_answer(simulator):
    """A response cut off by max_tokens, sent back as the assistant's last message with
    continue_final_message: the continuation is the rest of the same answer, without reasoning."""
    simulator.configure(**FAST, reasoning_tokens=10, answer_tokens=60)
    whole = await stream_chat(simulator, chat_body(seed=4))
    cut = await stream_chat(simulator, chat_body(seed=4, max_tokens=30))
    prefix = cut.text("content")
    assert cut.content_chunks[-1]["choices"][0]["finish_reason"] == "length" and prefix
    messages = [*MESSAGES, {"role": "assistant", "content": prefix}]
    more = await stream_chat(simulator, chat_body(seed=4, messages=messages,
                                                  continue_final_message=True,
                                                  add_generation_prompt=False))
    assert more.status == 200 and more.text("reasoning") == ""
    assert prefix + more.text("content") == whole.text("content")
    assert more.content_chunks[-1]["choices"][0]["finish_reason"] == "stop"
    record = simulator.requests()[-1]
    assert record["content"] == more.text("content") and "continue_final_message" in record["keys"]
    # A prefix this seed's answer does not begin with gets an answer of its own.
    other = [*MESSAGES, {"role": "assistant", "content": "Something else entirely"}]
    own = await stream_chat(simulator, chat_body(seed=4, messages=other,
                                                 continue_final_message=True,
                                                 add_generation_prompt=False))
    assert own.status == 200 and own.text("content") and own.text("reasoning") == ""


@pytest.mark.parametrize("extra, fragment", [
    ({"continue_final_message": True}, "add_generation_prompt"),
    ({"continue_final_message": True, "add_generation_prompt": False}, "final message"),
    ({"continue_final_message": "yes"}, "must be of type bool"),
])
async def test_continue_final_message_is_checked_like_vllm(simulator, extra, fragment):
    status, _, raw = await post_json(f"{simulator.base_url}/chat/completions",
                                     chat_body(**extra))
    assert status == 400 and fragment in json.loads(raw)["error"]["message"]


async def test_max_model_lens_gives_one_model_a_context_length_of_its_own(simulator):
    simulator.configure(models=["tiny"], max_model_lens={"tiny": 20})
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{simulator.base_url}/models") as resp:
            cards = {m["id"]: m["max_model_len"] for m in (await resp.json())["data"]}
    assert cards == {"fanout-sim": 8192, "tiny": 20}
    status, _, raw = await post_json(f"{simulator.base_url}/chat/completions",
                                     chat_body(model="tiny", max_tokens=10))
    assert status == 400
    assert ("maximum context length is 20 tokens and your request has 16 input tokens"
            in json.loads(raw)["error"]["message"])
    status, _, _ = await post_json(f"{simulator.base_url}/chat/completions",
                                   chat_body(max_tokens=10))
    assert status == 200


async def test_non_streaming_completion(simulator):
    simulator.configure(**FAST, reasoning_tokens=6, answer_tokens=12)
    status, content_type, raw = await post_json(f"{simulator.base_url}/chat/completions",
                                                chat_body(seed=9))
    assert status == 200 and content_type.startswith("application/json")
    body = json.loads(raw)
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    streamed = await stream_chat(simulator, chat_body(seed=9))
    assert choice["message"]["content"] == streamed.text("content")
    assert choice["message"]["reasoning"] == streamed.text("reasoning")
    assert body["usage"]["completion_tokens"] == 18
    assert body["usage"]["completion_tokens_details"] == {"reasoning_tokens": 6}


# -- errors before the stream ------------------------------------------------------------

TOO_LARGE = ("'max_tokens' or 'max_completion_tokens' is too large: 20000. This model's "
             "maximum context length is 8192 tokens and your request has {p} input tokens "
             "(20000 > 8192 - {p}).")


@pytest.mark.parametrize("error_format", ["current", "legacy"])
async def test_max_tokens_too_large_is_vllms_400(simulator, error_format):
    simulator.configure(error_format=error_format)
    status, content_type, raw = await post_json(f"{simulator.base_url}/chat/completions",
                                                chat_body(max_tokens=20000, stream=True))
    assert status == 400 and content_type.startswith("application/json")
    message = TOO_LARGE.format(p=PROMPT_TOKENS)
    if error_format == "current":
        assert json.loads(raw) == {"error": {"message": message, "type": "BadRequestError",
                                             "param": "max_tokens", "code": 400}}
    else:
        assert json.loads(raw) == {"object": "error", "message": message,
                                   "type": "BadRequestError", "param": None, "code": 400}
    [record] = simulator.requests()
    assert record["outcome"] == "rejected" and record["status"] == 400
    assert record["max_tokens"] == 20000 and record["completion_tokens_sent"] == 0


async def test_unknown_model_is_404(simulator):
    status, _, raw = await post_json(f"{simulator.base_url}/chat/completions",
                                     chat_body(model="gpt-nope"))
    assert status == 404
    assert json.loads(raw)["error"] == {"message": "The model `gpt-nope` does not exist.",
                                        "type": "NotFoundError", "param": "model", "code": 404}


@pytest.mark.parametrize("body, fragment", [
    ({"messages": []}, "messages"),
    ({"max_tokens": 10}, "messages"),
    ({"messages": MESSAGES, "n": 2}, "n = 1"),
    ({"messages": MESSAGES, "stream_options": {"include_usage": True}}, "stream=True"),
])
async def test_invalid_requests_are_400(simulator, body, fragment):
    status, _, raw = await post_json(f"{simulator.base_url}/chat/completions", body)
    assert status == 400 and fragment in json.loads(raw)["error"]["message"]


async def test_invalid_json_is_400(simulator):
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{simulator.base_url}/chat/completions",
                                data=b"{not json") as resp:
            assert resp.status == 400
            assert "Invalid JSON" in (await resp.json())["error"]["message"]


async def test_api_key_is_required_when_set(simulator):
    simulator.configure(**FAST, api_key="s3cret", answer_tokens=3, reasoning_tokens=0)
    url = f"{simulator.base_url}/chat/completions"
    for headers in (None, {"Authorization": "Bearer wrong"}):
        status, _, raw = await post_json(url, chat_body(), headers)
        assert (status, json.loads(raw)) == (401, {"error": "Unauthorized"})
    status, _, _ = await post_json(url, chat_body(), {"Authorization": "Bearer s3cret"})
    assert status == 200
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{simulator.base_url}/models") as resp:
            assert resp.status == 401
    outcomes = [(r["outcome"], r["headers"]["authorization"]) for r in simulator.requests()]
    assert outcomes == [("rejected", None), ("rejected", "Bearer wrong"),
                        ("completed", "Bearer s3cret")]


# -- faults ------------------------------------------------------------------------------

async def test_error_fault_sends_vllms_error_event_then_done(simulator):
    simulator.configure(**FAST, reasoning_tokens=0,
                        faults=[{"kind": "error", "after_tokens": 5, "times": 1,
                                 "message": "engine died"}])
    stream = await stream_chat(simulator, chat_body(stream_options=USAGE_ALL))
    assert stream.events[-2:] == [{"error": {"message": "engine died",
                                             "type": "InternalServerError", "param": None,
                                             "code": 500}}, "[DONE]"]
    assert [c["usage"]["completion_tokens"] for c in stream.content_chunks] == list(range(6))
    record = simulator.requests()[0]
    assert (record["fault"], record["outcome"], record["completion_tokens_sent"]) == \
        ("error", "error", 5)
    # times: 1 -> the next request is healthy.
    assert (await stream_chat(simulator, chat_body())).content_chunks[-1]["choices"][0][
        "finish_reason"] == "stop"
    assert simulator.requests()[1]["fault"] is None


async def test_drop_fault_closes_the_connection_without_done(simulator):
    simulator.configure(**FAST, reasoning_tokens=0, tokens_per_event=2,
                        faults=[{"kind": "drop", "after_tokens": 7}])
    received = b""
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{simulator.base_url}/chat/completions",
                                json=chat_body(stream=True)) as resp:
            assert resp.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                async for data in resp.content.iter_any():
                    received += data
    events = sse_events(received, strict=True)
    assert "[DONE]" not in events
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events) == \
        simulator.requests()[0]["content"]
    record = simulator.requests()[0]
    assert (record["outcome"], record["completion_tokens_sent"], record["disconnected"]) == \
        ("dropped", 7, False)


async def test_stall_fault_pauses_then_resumes(simulator):
    simulator.configure(**FAST, reasoning_tokens=0, answer_tokens=10,
                        faults=[{"kind": "stall", "after_tokens": 3, "stall_ms": 300}])
    arrivals = []
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{simulator.base_url}/chat/completions",
                                json=chat_body(stream=True)) as resp:
            async for line in resp.content:
                if line.startswith(b"data: "):
                    arrivals.append(time.monotonic())
    assert len(arrivals) == 1 + 10 + 1  # role, tokens, [DONE]
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert gaps.index(max(gaps)) == 3 and max(gaps) >= 0.28
    assert simulator.requests()[0]["outcome"] == "completed"


@pytest.mark.parametrize("body_kind", ["json", "html"])
async def test_http_error_fault(simulator, body_kind):
    simulator.configure(faults=[{"kind": "http_error", "status": 502, "body": body_kind,
                                 "times": 1}])
    status, content_type, raw = await post_json(f"{simulator.base_url}/chat/completions",
                                                chat_body(stream=True))
    assert status == 502
    if body_kind == "html":
        assert content_type.startswith("text/html") and b"502 Bad Gateway" in raw
    else:
        assert json.loads(raw)["error"]["code"] == 502
    record = simulator.requests()[0]
    assert (record["fault"], record["outcome"], record["status"]) == ("http_error", "error", 502)


# -- cancellation and concurrency --------------------------------------------------------

async def _read_events_then_close(simulator, body, events_before_close: int) -> float:
    """Open a stream, read some events, close the socket; returns when it closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", simulator.port)
    payload = json.dumps({"stream": True, **body}).encode()
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: sim\r\n"
                 b"Content-Type: application/json\r\nContent-Length: "
                 + str(len(payload)).encode() + b"\r\n\r\n" + payload)
    await writer.drain()
    received = b""
    while count_events(received) < events_before_close:
        received += await asyncio.wait_for(reader.read(65536), 5)
    closed_at = time.time()
    writer.close()
    await writer.wait_closed()  # the socket really closes on the next loop iteration
    return closed_at


async def test_client_disconnect_mid_stream_stops_generation(simulator):
    simulator.configure(tokens_per_second=50, ttft_ms=1, reasoning_tokens=0, answer_tokens=500)
    closed_at = await _read_events_then_close(simulator, chat_body(), 6)
    [record] = simulator.wait_for(lambda r: r[0]["disconnected"], timeout=2)
    assert record["outcome"] == "disconnected"
    assert 0 <= record["disconnected_at"] - closed_at < 0.1
    sent = record["completion_tokens_sent"]
    assert 5 <= sent < 20
    await asyncio.sleep(0.3)
    assert simulator.requests()[0]["completion_tokens_sent"] == sent


async def test_client_disconnect_during_stall_is_detected(simulator):
    simulator.configure(**FAST, reasoning_tokens=0, faults=[{"kind": "stall", "after_tokens": 2}])
    closed_at = await _read_events_then_close(simulator, chat_body(), 3)
    [record] = simulator.wait_for(lambda r: r[0]["disconnected"], timeout=2)
    assert record["outcome"] == "disconnected" and record["completion_tokens_sent"] == 2
    assert 0 <= record["disconnected_at"] - closed_at < 0.1


async def test_concurrent_streams_each_get_their_rate(simulator):
    simulator.configure(tokens_per_second=100, ttft_ms=20, reasoning_tokens=0, answer_tokens=50)

    async def timed(seed: int):
        start = time.monotonic()
        stream = await stream_chat(simulator, chat_body(seed=seed, stream_options=USAGE_ALL))
        return time.monotonic() - start, stream

    results = await asyncio.gather(*(timed(seed) for seed in range(16)))
    for elapsed, stream in results:
        assert stream.events[-1] == "[DONE]"
        assert stream.chunks[-1]["usage"]["completion_tokens"] == 50
        # 50 tokens at 100 tok/s: about half a second each, not 16 times that.
        assert 0.45 <= elapsed < 2.0
    record = simulator.requests()
    assert len(record) == 16 and all(r["outcome"] == "completed" for r in record)


async def test_answer_text_setting_streams_exactly_that_text(simulator):
    text = 'Intro with <b>html</b>.\n\n```python\nprint("a\\nb")\n```\n\ttab, CRLF\r\nend 🙂'
    simulator.configure(answer_text=text, reasoning_tokens=3, tokens_per_second=1000, ttft_ms=0)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            simulator.base_url + "/chat/completions",
            json={"messages": [{"role": "user", "content": "x"}], "stream": True, "max_tokens": 500},
        ) as resp:
            raw = await resp.read()
    content = sse_text(raw)[1]
    assert content == text
    assert simulator.requests()[0]["content"] == text


async def test_cors_lets_a_browser_page_call_v1_like_vllm_default(simulator):
    async with aiohttp.ClientSession() as session:
        async with session.options(
            simulator.base_url + "/chat/completions",
            headers={"Origin": "http://localhost:8888", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization,content-type"},
        ) as resp:
            assert resp.status == 204
            assert resp.headers["Access-Control-Allow-Origin"] == "*"
            assert resp.headers["Access-Control-Allow-Headers"] == "authorization,content-type"
            assert "POST" in resp.headers["Access-Control-Allow-Methods"]
        async with session.get(simulator.base_url + "/models", headers={"Origin": "http://x"}) as resp:
            assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert simulator.requests() == []  # a preflight is not a completion request


# -- dialects (docs/dialects.md) ---------------------------------------------------------

async def test_llamacpp_dialect_writes_a_mid_stream_error_as_its_own_sse_field(simulator):
    simulator.configure(**FAST, dialect="llamacpp",
                        faults=[{"kind": "error", "after_tokens": 2, "message": "oops"}])
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{simulator.base_url}/chat/completions",
                                json={"stream": True, **chat_body()}) as resp:
            raw = await resp.read()
    assert raw.endswith(b'\n\nerror: {"code":500,"message":"oops","type":"server_error"}\n\n'
                        b'data: [DONE]\n\n')
    models = json.loads(await _get(f"{simulator.base_url}/models"))
    assert models["data"][0]["owned_by"] == "llamacpp"


async def _get(url: str):
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as resp:
            return await resp.read()


async def test_openai_dialect_refuses_unknown_parameters_and_max_tokens(simulator):
    simulator.configure(**FAST, dialect="openai")
    url = f"{simulator.base_url}/chat/completions"
    status, _, body = await post_json(url, chat_body(stream=True, stream_options=USAGE_ALL))
    error = json.loads(body)["error"]
    assert status == 400 and error["code"] == "unknown_parameter"
    assert error["param"] == "stream_options.continuous_usage_stats"
    status, _, body = await post_json(url, chat_body(chat_template_kwargs={}))
    assert status == 400 and json.loads(body)["error"]["code"] == "unknown_parameter"
    status, _, body = await post_json(url, chat_body())
    assert status == 400 and json.loads(body)["error"]["code"] == "unsupported_parameter"
    body = {k: v for k, v in chat_body().items() if k != "max_tokens"}
    stream = await stream_chat(simulator, {**body, "max_completion_tokens": 8,
                                           "stream_options": {"include_usage": True}})
    assert stream.status == 200 and stream.events[-1] == "[DONE]"
    assert stream.chunks[-1]["usage"]["completion_tokens"] == 8
    assert all("reasoning" not in c["choices"][0]["delta"] for c in stream.content_chunks)


async def test_litellm_strips_per_chunk_usage_and_sglang_writes_every_delta_field(simulator):
    simulator.configure(**FAST, dialect="litellm")
    stream = await stream_chat(simulator, chat_body(stream_options=USAGE_ALL))
    assert [bool(c.get("usage")) for c in stream.chunks].count(True) == 1
    assert stream.chunks[-1]["choices"] == [] and stream.text("reasoning_content")
    simulator.configure(dialect="sglang", faults=[{"kind": "abort", "after_tokens": 3}])
    stream = await stream_chat(simulator, chat_body(stream_options=USAGE_ALL))
    assert all(c.get("usage") for c in stream.chunks)
    deltas = [c["choices"][0]["delta"] for c in stream.content_chunks]
    assert all({"role", "content", "reasoning_content", "tool_calls"} <= set(d) for d in deltas[1:])
    assert stream.content_chunks[-1]["choices"][0]["finish_reason"] == "abort"
    assert stream.events[-1] == "[DONE]"


# -- the `[[final: ...]]` directive (agreement tests) ------------------------------------------


async def test_a_final_directive_gives_each_choice_in_turn(simulator):
    simulator.configure(**FAST, reasoning_tokens=5)
    body = chat_body(messages=[{"role": "user", "content": "6 x 7? [[final: 42 | 41 | 42.0]]"}])
    texts = [(await stream_chat(simulator, {**body, "seed": i})).text("content") for i in range(4)]
    assert [t.splitlines()[-1] for t in texts] == ["42", "41", "42.0", "42"]
    assert texts[0] == "Let me work this out step by step.\n\nAnswer:\n42"
    # Without the directive, or with no choice in it: the usual generated text.
    plain = await stream_chat(simulator, chat_body(seed=1))
    assert "Answer:" not in plain.text("content").splitlines()[-1]
    empty = chat_body(messages=[{"role": "user", "content": "x [[final: | ]]"}], seed=1)
    assert not (await stream_chat(simulator, empty)).text("content").startswith("Let me work")


async def test_a_client_that_stops_reading_holds_its_stream_back_and_loses_nothing(simulator):
    """Backpressure: a write that cannot complete at once ends the stream's engine segment;
    the stream waits for it, then goes on, every event in order."""
    simulator.configure(tokens_per_second=200_000, ttft_ms=1, reasoning_tokens=0,
                        answer_tokens=60_000, max_model_len=65_536)
    # A small receive buffer; the server's send buffer still holds up to 4 MB (tcp_wmem's
    # usual maximum), about 15,000 events of the 60,000.
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    client.setblocking(False)
    await asyncio.get_running_loop().sock_connect(client, ("127.0.0.1", simulator.port))
    reader, writer = await asyncio.open_connection(sock=client)
    payload = json.dumps({"stream": True, **chat_body(max_tokens=60_000,
                                                      stream_options=USAGE_ALL)}).encode()
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n"
                 b"Content-Type: application/json\r\nContent-Length: "
                 + str(len(payload)).encode() + b"\r\n\r\n" + payload)
    await writer.drain()
    # Reads nothing meanwhile: the socket's buffers fill and the stream stops sending.
    counts = [-1]
    for _ in range(100):
        await asyncio.sleep(0.1)
        counts.append(simulator.requests()[0]["completion_tokens_sent"])
        if counts[-1] == counts[-2] == counts[-3]:
            break
    held = simulator.requests()[0]
    assert counts[-1] == counts[-3], counts  # held back, not buffered without end
    assert held["outcome"] == "running" and 0 < held["completion_tokens_sent"] < 60_000
    received = b""
    while chunk := await asyncio.wait_for(reader.read(1 << 20), 10):
        received += chunk
    writer.close()
    body = received.split(b"\r\n\r\n", 1)[1]
    events = sse_events(_unchunk(body), strict=True)
    assert events[-1] == "[DONE]"
    usage = [e["usage"]["completion_tokens"] for e in events if isinstance(e, dict)
             and e.get("choices")]
    assert usage == list(range(60_001))  # the role chunk, then every event in order, once
    [record] = simulator.requests()
    assert record["outcome"] == "completed" and record["completion_tokens_sent"] == 60_000


def _unchunk(body: bytes) -> bytes:
    """An HTTP/1.1 chunked body's bytes."""
    out, at = [], 0
    while at < len(body):
        end = body.index(b"\r\n", at)
        size = int(body[at:end], 16)
        if size == 0:
            break
        out.append(body[end + 2:end + 2 + size])
        at = end + 2 + size + 2
    return b"".join(out)
