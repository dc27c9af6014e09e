"""Fused responses (issue 17, fuse and guided merge): the fusion record's route and checks, a
fused response added to an ended batch over the batch socket and kept in the store with its
sources, the checklist call through a real server to the real simulator, and the simulator's
answers to the fuse and checklist prompts."""
from __future__ import annotations

import json
import logging

import pytest

from .proxy_fixtures import *  # noqa: F403 - fixtures
from .proxy_fixtures import open_batch
from .test_store import STORE, api, api_error
from ..simulator import fuse as sim_fuse
from ..completion import parse_completion
from ..dialects import DIALECTS
from ..fusions import check, checklist_body
from ..config import UpstreamSpec
from ..errors import FanoutError
from ..store import StoreError
from ..upstream import Upstream

DRAFTS = (
    "[[fanout:fuse]] You merge drafts.", "Question: add two numbers\n\n"
    "=== Draft 1 (response 1) ===\nFirst draft line.\nMore.\n=== End of draft 1 ===\n\n"
    "=== Draft 2 (response 3) ===\n\n  Second draft opens here\n=== End of draft 2 ===\n"
)
FUSION = {"sources": [{"responseId": "1", "attempt": 1}, {"responseId": "2", "attempt": 1}],
          "instruction": "Merge them.", "checklist": None, "model": "", "upstream": "sim"}


async def stream(jp_ws_fetch, batch_id: str, n: int = 2) -> None:
    client = await open_batch(jp_ws_fetch)
    await client.send({"type": "batch", "id": batch_id, "prompt": "Add two numbers",
                       "options": {"n": n}})
    wires = [f"{i}.1" for i in range(1, n + 1)]
    for wire in wires:
        await client.start(wire)
    await client.wait_terminal(*wires)
    await client.close()


# ---------------------------------------------------------------- the simulator's answers


def test_simulator_fuse_answer_names_the_drafts_and_points():
    system, user = DRAFTS
    assert sim_fuse.drafts(user) == [(1, "1", "First draft line."), (2, "3", "Second draft opens here")]
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    text = sim_fuse.directed_answer(messages, {})
    assert text.startswith("Fused answer from 2 drafts.\n\n")
    assert 'Draft 1 begins: "First draft line."' in text
    assert 'Draft 2 begins: "Second draft opens here"' in text
    assert "Covering" not in text
    with_points = user + "\nCover exactly these points:\n- Use a function\n- Add tests\n"
    text = sim_fuse.directed_answer(
        [{"role": "system", "content": system}, {"role": "user", "content": with_points}], {})
    assert "Covering 2 points:\n1. Use a function\n2. Add tests" in text
    # Without the marker (or with it in the user's text only) nothing is directed.
    assert sim_fuse.directed_answer([{"role": "user", "content": system + user}], {}) is None


def test_simulator_checklist_answers_json_bare_fenced_or_broken():
    user = DRAFTS[1]
    messages = [{"role": "system", "content": "[[fanout:checklist]] List points."},
                {"role": "user", "content": user}]
    bare = sim_fuse.directed_answer(messages, {"response_format": {"type": "json_schema"}})
    data = json.loads(bare)
    assert [p["drafts"] for p in data["points"]] == [[1, 2], [1], [2]]
    assert data["points"][1]["text"] == "Draft 1 opens with: First draft line."
    fenced = sim_fuse.directed_answer(messages, {})
    assert fenced.startswith("Here are the distinct points:\n\n```json\n")
    assert json.loads(fenced.split("```json\n")[1].split("\n```")[0]) == data
    broken = [messages[0], {"role": "user", "content": user + "\n[[checklist: malformed]]"}]
    with pytest.raises(ValueError):
        json.loads(sim_fuse.directed_answer(broken, {"response_format": {"type": "json_schema"}}))


async def test_simulator_streams_the_fuse_answer(simulator):
    import aiohttp
    simulator.configure(tokens_per_second=5000, ttft_ms=1, reasoning_tokens=0)
    system, user = DRAFTS
    async with aiohttp.ClientSession() as session:
        async with session.post(simulator.base_url + "/chat/completions", json={
            "model": "fanout-sim", "max_tokens": 500, "stream": False,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        }, headers={"Authorization": f"Bearer {simulator.api_key}"} if getattr(
                simulator, "api_key", None) else {}) as response:
            body = await response.json()
    assert body["choices"][0]["message"]["content"] == sim_fuse.fuse_answer(user)


# ---------------------------------------------------------------- checks without a server


def test_fusion_body_checks_name_the_field():
    assert check(FUSION)["sources"] == FUSION["sources"]
    cases = [
        ([], "the body must be a JSON object"),
        ({**FUSION, "extra": 1}, "unknown field 'extra'"),
        ({**FUSION, "sources": []}, "'sources' must be a list of 1 to 64"),
        ({**FUSION, "sources": [{"responseId": "1"}]}, "sources[0] must be"),
        ({**FUSION, "sources": [{"responseId": "1", "attempt": 0}]}, "sources[0].attempt"),
        ({**FUSION, "sources": [{"responseId": "1", "attempt": 1}] * 2}, "named twice"),
        ({**FUSION, "instruction": "  "}, "'instruction' must be a non-empty string"),
        ({**FUSION, "checklist": []}, "'checklist' must be null or a list of 1 to 64"),
        ({**FUSION, "checklist": ["ok", 3]}, "checklist[1] must be a non-empty string"),
        ({**FUSION, "model": 5}, "'model' must be a string"),
    ]
    for body, message in cases:
        with pytest.raises(StoreError) as info:
            check(body)
        assert info.value.status == 400 and message in info.value.message, (body, info.value.message)


def test_the_checklist_answer_is_read_with_its_model_and_finish_reason():
    # The checklist goes through the judge's one-shot client (completion.py): a non-streamed
    # answer, its content, finish reason and model read, its key scrubbed.
    up = Upstream(UpstreamSpec(name="u", base_urls=("http://127.0.0.1:1/v1",), api_key="sk-secret"),
                  idle_timeout=1, connect_timeout=1, models_timeout=1,
                  log=logging.getLogger("test"))
    raw = json.dumps({"model": "m", "choices": [{"message": {"content": '{"points": []} sk-secret'},
                                                 "finish_reason": "stop"}]}).encode()
    answer = parse_completion(raw, up)
    assert (answer.finish_reason, answer.model) == ("stop", "m")
    assert answer.content.startswith('{"points": []}') and "sk-secret" not in answer.content
    with pytest.raises(FanoutError) as info:
        parse_completion(b'data: {"error": {"message": "boom"}}\n\n', up)
    assert info.value.status == 502 and "did not answer with a chat completion" in info.value.message


# ---------------------------------------------------------------- through a real server


@STORE
async def test_fused_response_is_added_to_an_ended_batch_and_stored(
        jp_fetch, jp_ws_fetch, simulator, no_unhandled_errors):
    simulator.configure(answer_tokens=8)
    await stream(jp_ws_fetch, "f", 2)
    # What it fuses is recorded first, then it streams as response 3 of the same batch.
    body = {**FUSION, "checklist": ["Use a function", "Add tests"], "model": "fanout-sim"}
    kept = await api(jp_fetch, "batches", "f", "responses", "3", "fusion", method="PUT", body=body)
    assert kept == {"batchId": "f", "responseId": "3", **body}
    client = await open_batch(jp_ws_fetch)
    await client.send({"type": "batch", "id": "f", "prompt": "Add two numbers", "options": {"n": 2}})
    system, user = DRAFTS
    await client.start("3.1", messages=[{"role": "system", "content": system},
                                        {"role": "user", "content": user}], max_tokens=400)
    assert (await client.wait_terminal("3.1"))["3.1"]["type"] == "end"
    await client.close()

    batch = await api(jp_fetch, "batches", "f")
    assert [r["id"] for r in batch["responses"]] == ["1", "2", "3"]
    fused = batch["responses"][2]
    assert fused["fusion"]["sources"] == body["sources"]
    assert fused["fusion"]["instruction"] == "Merge them."
    assert fused["fusion"]["checklist"] == ["Use a function", "Add tests"]
    assert fused["attempts"][0]["text"] == sim_fuse.fuse_answer(user)
    assert "fusion" not in batch["responses"][0]
    # Recording it again (a re-generate of the fused response) is allowed.
    await api(jp_fetch, "batches", "f", "responses", "3", "fusion", method="PUT", body=body)


@STORE
async def test_fusion_refusals(jp_fetch, jp_ws_fetch, simulator, no_unhandled_errors):
    simulator.configure(answer_tokens=4)
    await stream(jp_ws_fetch, "g", 2)
    route = ("batches", "g", "responses", "3", "fusion")
    assert await api_error(jp_fetch, "batches", "nope", "responses", "3", "fusion",
                           method="PUT", body=FUSION) == (404, "no batch 'nope'")
    status, message = await api_error(jp_fetch, *route, method="PUT", body={
        **FUSION, "sources": [{"responseId": "9", "attempt": 1}]})
    assert status == 400 and "has no attempt 1 of response '9'" in message
    status, message = await api_error(jp_fetch, *route, method="PUT", body={
        **FUSION, "sources": [{"responseId": "1", "attempt": 2}]})
    assert status == 400 and "has no attempt 2 of response '1'" in message
    status, message = await api_error(jp_fetch, "batches", "g", "responses", "2", "fusion",
                                      method="PUT", body=FUSION)
    assert status == 400 and "already has a response '2' that is not fused" in message
    status, message = await api_error(jp_fetch, *route, method="PUT", body={**FUSION, "x": 1})
    assert status == 400 and "unknown field 'x'" in message
    # Nothing was kept.
    batch = await api(jp_fetch, "batches", "g")
    assert all("fusion" not in r for r in batch["responses"])


async def test_checklist_call_asks_for_json_and_answers_the_raw_text(
        jp_fetch, simulator, no_unhandled_errors):
    simulator.configure(reasoning_tokens=0)
    system = "[[fanout:checklist]] List the distinct points."
    answer = await api(jp_fetch, "fuse", "checklist", method="POST", body={
        "upstream": "sim", "request": {"model": "", "max_tokens": 800, "messages": [
            {"role": "system", "content": system}, {"role": "user", "content": DRAFTS[1]}]}})
    assert answer["structured"] is True and answer["dialect"] == "vllm"
    assert answer["finishReason"] == "stop"
    assert json.loads(answer["text"]) == {"points": sim_fuse.checklist_points(DRAFTS[1])}


async def test_checklist_call_refusals(jp_fetch, simulator, no_unhandled_errors):
    request = {"max_tokens": 100, "messages": [{"role": "user", "content": "x"}]}
    cases = [
        ({"upstream": "nowhere", "request": request}, 404, "no upstream named 'nowhere'"),
        ({"upstream": "allow", "request": {**request, "model": "other"}}, 400,
         "model 'other' is not allowed on upstream 'allow'"),
        ({"upstream": "sim", "request": {**request, "max_tokens": 10 ** 9}}, 400,
         "max_tokens_limit"),
        ({"upstream": "sim", "request": request, "url": "http://evil"}, 400,
         "unknown field 'url'"),
    ]
    for body, status, message in cases:
        got_status, got = await api_error(jp_fetch, "fuse", "checklist", method="POST", body=body)
        assert got_status == status and message in got, (body, got_status, got)


def test_checklist_body_has_response_format_only_where_understood():
    up = Upstream(UpstreamSpec(name="u", base_urls=("http://127.0.0.1:1/v1",)),
                  idle_timeout=1, connect_timeout=1, models_timeout=1,
                  log=logging.getLogger("test"))

    request = {"max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
               "continue_final_message": False}
    vllm = checklist_body(dict(request), up, 100, None, DIALECTS["vllm"])
    assert vllm["response_format"]["type"] == "json_schema"
    assert "continue_final_message" not in vllm
    assert "response_format" not in checklist_body(dict(request), up, 100, None, DIALECTS["ollama"])
    # A dialect that could not be detected is generic (completion.dialect_of): no response_format.
    assert "response_format" not in checklist_body(dict(request), up, 100, None, DIALECTS["generic"])
