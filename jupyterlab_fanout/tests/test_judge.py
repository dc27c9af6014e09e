"""Judge (judge.py, completion.py, simulator/judge.py): the rubric, the defensive reader, the
arithmetic of totals, and POST fanout/batches/<id>/judge against the real simulator and a real
SQLite store."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import tornado.httpclient

from jupyterlab_fanout import dialects, judge
from jupyterlab_fanout.simulator import judge as sim_judge

from .proxy_fixtures import *  # noqa: F403 - fixtures
from .proxy_fixtures import API_KEY, FAST, KEY_ENV
from .test_store import api, api_error, store_in_tmp
from .test_store_direct import BATCH, attempt, put

CRITERIA = [{"name": "correctness", "description": "is it right"},
            {"name": "clarity", "description": ""}]


def items(*texts: str) -> list[judge.Judged]:
    return [judge.Judged(label=f"Response {k}", response_id=str(k), attempt=1, model=f"m{k}",
                         upstream="u", text=t) for k, t in enumerate(texts, 1)]


def codes(problems: list[dict]) -> list[str]:
    return [p["code"] for p in problems]


def good(scores: list[dict[str, Any]], rationale: str = "ok") -> str:
    return json.dumps({"judgements": [{"response": k, "scores": s, "rationale": rationale}
                                      for k, s in enumerate(scores, 1)]})


# ------------------------------------------------------------------ the rubric and request


def test_rubric_from_text_and_list():
    assert judge.parse_rubric(None) == [dict(c) for c in judge.DEFAULT_RUBRIC]
    assert judge.parse_rubric("  \n") == [dict(c) for c in judge.DEFAULT_RUBRIC]
    text = "correctness: is it right: really\n\n# a comment\n  clarity  \n"
    assert judge.parse_rubric(text) == [
        {"name": "correctness", "description": "is it right: really"},
        {"name": "clarity", "description": ""}]
    assert judge.parse_rubric(["a", {"name": "b", "description": "d"}]) == [
        {"name": "a", "description": ""}, {"name": "b", "description": "d"}]
    for bad, message in [
        (": nothing", "line 1 has no criterion name"),
        ("a\nA", "names the criterion 'A' twice"),
        ([{"name": ""}], "'rubric[0].name' must be a non-empty string"),
        ([{"name": "x", "weight": 2}], "unknown field 'weight'"),
        ([{"name": "x" * 65}], "at most 64 characters"),
        ([3], "'rubric[0]' must be an object"),
        (7, "'rubric' must be a list"),
        ([f"c{i}" for i in range(17)], "at most 16 criteria"),
    ]:
        with pytest.raises(judge.StoreError) as info:
            judge.parse_rubric(bad)
        assert info.value.status == 400 and message in info.value.message, (bad, info.value)


def test_check_request_names_the_field():
    for body, message in [
        ([], "must be a JSON object"),
        ({"modle": "x"}, "unknown field 'modle'"),
        ({"model": 3}, "'model' must be a string"),
        ({"upstream": ["a"]}, "'upstream' must be a string"),
        ({"responseIds": []}, "'responseIds' must be a list of 1 to 64"),
        ({"responseIds": ["1", 2]}, "'responseIds[1]' must be a non-empty string"),
        ({"responseIds": ["1", "1"]}, "names a response twice"),
        ({"attempts": {"1": 0}}, "'attempts.1' must be a positive integer"),
        ({"attempts": ["1"]}, "'attempts' must be an object"),
    ]:
        with pytest.raises(judge.StoreError) as info:
            judge.check_request(body)
        assert info.value.status == 400 and message in info.value.message, (body, info.value)


# ------------------------------------------------------------------ the arithmetic of totals


def test_totals_sum_the_scores_and_rank_best_first():
    assert judge.total({"a": 3, "b": 4}) == 7
    assert judge.total({"a": 7.5, "b": 1}) == 8.5
    assert judge.total({"a": 3, "b": None}) is None
    assert judge.total({}) is None
    rows, problems = judge.read_answer(
        good([{"correctness": 3, "clarity": 4}, {"correctness": 9, "clarity": 10},
              {"correctness": 5, "clarity": 5}]), CRITERIA, items("a", "b", "c"))
    assert problems == []
    assert [(r["label"], r["total"]) for r in rows] == [
        ("Response 2", 19), ("Response 3", 10), ("Response 1", 7)]
    assert rows[0]["model"] == "m2" and rows[0]["responseId"] == "2"
    assert rows[0]["scores"] == {"correctness": 9, "clarity": 10} and rows[0]["rationale"] == "ok"


# ------------------------------------------------------------------ the defensive reader


def test_fenced_json_with_text_around_is_read_and_said():
    text = "Sure! Here it is:\n\n```json\n" + good([{"correctness": 6, "clarity": 7}]) + \
        "\n```\nHope that helps."
    rows, problems = judge.read_answer(text, CRITERIA, items("a"))
    assert codes(problems) == ["fenced", "wrapped"] and rows[0]["total"] == 13


def test_json_wrapped_in_prose_without_a_fence():
    text = "My verdict: " + good([{"correctness": 2, "clarity": 2}]) + " (done)"
    rows, problems = judge.read_answer(text, CRITERIA, items("a"))
    assert codes(problems) == ["wrapped"] and rows[0]["total"] == 4


def test_a_think_block_before_the_json_is_not_a_problem():
    text = "<think>hmm {not json}</think>\n" + good([{"correctness": 2, "clarity": 3}])
    rows, problems = judge.read_answer(text, CRITERIA, items("a"))
    assert problems == [] and rows[0]["total"] == 5


def test_missing_criterion_keeps_the_others_and_no_total():
    rows, problems = judge.read_answer(good([{"correctness": 8}]), CRITERIA, items("a"))
    assert codes(problems) == ["missing_criterion"]
    assert problems[0]["criterion"] == "clarity" and "Response 1: no score for 'clarity'" in \
        problems[0]["message"]
    assert rows[0]["scores"] == {"correctness": 8, "clarity": None} and rows[0]["total"] is None


def test_string_scores_are_read_and_reported():
    rows, problems = judge.read_answer(good([{"correctness": "7/10", "Clarity": " 8 "}]),
                                       CRITERIA, items("a"))
    assert codes(problems) == ["score_string", "score_string"]
    assert "was the text \"7/10\"; read as 7" in problems[0]["message"]
    assert rows[0]["scores"] == {"correctness": 7, "clarity": 8} and rows[0]["total"] == 15


def test_out_of_range_and_non_numbers_are_left_out_not_clamped():
    rows, problems = judge.read_answer(
        good([{"correctness": 11, "clarity": 0}, {"correctness": "great", "clarity": True}]),
        CRITERIA, items("a", "b"))
    assert codes(problems) == ["score_out_of_range", "score_out_of_range",
                               "score_not_number", "score_not_number"]
    assert "the score 11 for 'correctness' is outside 1–10" in problems[0]["message"]
    assert all(r["total"] is None for r in rows)
    assert rows[0]["scores"] == {"correctness": None, "clarity": None}


def test_not_json_at_all_keeps_the_raw_text_and_empty_rows():
    rows, problems = judge.read_answer("Response 1 is better than Response 2.", CRITERIA,
                                       items("a", "b"))
    assert codes(problems) == ["not_json"]
    assert [r["total"] for r in rows] == [None, None]
    assert [r["label"] for r in rows] == ["Response 1", "Response 2"]
    assert judge.read_answer("  ", CRITERIA, items("a"))[1][0]["code"] == "empty"


def test_partial_json_keeps_the_complete_judgements():
    whole = good([{"correctness": 4, "clarity": 5}, {"correctness": 6, "clarity": 7}])
    cut = whole[: whole.index('"response": 2') + 20]
    rows, problems = judge.read_answer(cut, CRITERIA, items("a", "b"))
    assert codes(problems) == ["partial", "missing_response"]
    assert "read the 1 complete judgement before the break" in problems[0]["message"]
    assert [(r["label"], r["total"]) for r in rows] == [("Response 1", 9), ("Response 2", None)]


def test_unknown_duplicate_and_labelled_responses():
    text = json.dumps({"judgements": [
        {"response": "Response 2", "scores": {"correctness": 1, "clarity": 1},
         "rationale": "weak"},
        {"response": 2, "scores": {"correctness": 9, "clarity": 9}, "rationale": "again"},
        {"response": 5, "scores": {}, "rationale": ""},
        {"response": 1, "scores": {"correctness": 3, "clarity": 3, "style": 2}},
        "nonsense",
    ]})
    rows, problems = judge.read_answer(text, CRITERIA, items("a", "b"))
    assert codes(problems) == ["duplicate_response", "unknown_response", "unknown_criterion",
                               "missing_rationale", "bad_entry"]
    by_label = {r["label"]: r for r in rows}
    assert by_label["Response 2"]["total"] == 2 and by_label["Response 2"]["rationale"] == "weak"
    assert by_label["Response 1"]["total"] == 6


def test_a_bare_list_is_read_as_the_judgements():
    text = json.dumps([{"response": 1, "scores": {"correctness": 2, "clarity": 2},
                        "rationale": "r"}])
    rows, problems = judge.read_answer(text, CRITERIA, items("a"))
    assert codes(problems) == ["bare_list"] and rows[0]["total"] == 4


def test_no_judgements_list():
    rows, problems = judge.read_answer('{"scores": [1, 2]}', CRITERIA, items("a"))
    assert codes(problems) == ["no_judgements", "missing_response"]


# ------------------------------------------------------------------ the judge's request


def test_the_prompt_labels_responses_neutrally_and_fences_them():
    chosen = items("the text ~~~~ has tildes", "plain")
    text = judge.user_message("What is 2+2?", CRITERIA, chosen)
    assert "## Response 1\n\n~~~~~\nthe text ~~~~ has tildes\n~~~~~" in text
    assert "## Response 2\n\n~~~~\nplain\n~~~~" in text
    assert "m1" not in text and "m2" not in text
    assert "- correctness: is it right\n- clarity\n" in text
    body = judge.request_body("judge-model", "p", CRITERIA, chosen, json_schema=True,
                              strict_subset=False, max_tokens_limit=100000)
    assert body["messages"][0]["content"].startswith(judge.MARKER)
    schema = body["response_format"]["json_schema"]
    assert schema["name"] == judge.SCHEMA_NAME and schema["strict"] is True
    item = schema["schema"]["properties"]["judgements"]["items"]
    assert item["properties"]["scores"]["required"] == ["correctness", "clarity"]
    assert item["properties"]["response"] == {"type": "integer", "minimum": 1, "maximum": 2}
    assert body["temperature"] == 0 and body["max_tokens"] == 512 + 2 * (128 + 16 * 2)
    openai = judge.request_body("m", "p", CRITERIA, chosen, json_schema=True,
                                strict_subset=True, max_tokens_limit=300)
    assert "minimum" not in json.dumps(openai["response_format"]) and openai["max_tokens"] == 300
    plain = judge.request_body("m", "p", CRITERIA, chosen, json_schema=False,
                               strict_subset=False, max_tokens_limit=300)
    assert "response_format" not in plain


def test_the_budget_fits_the_judges_context():
    chosen = items("word " * 600, "short")
    body = judge.request_body("m", "p", CRITERIA, chosen, json_schema=False,
                              strict_subset=False, max_tokens_limit=100000, context_length=2000)
    estimate = judge.prompt_estimate(body["messages"])
    assert estimate > 1000 and body["max_tokens"] == 2000 - estimate
    with pytest.raises(judge.StoreError) as info:
        judge.request_body("m", "p", CRITERIA, chosen, json_schema=False, strict_subset=False,
                           max_tokens_limit=100000, context_length=estimate + 10)
    assert info.value.status == 400 and "does not fit 'm''s context" in info.value.message


def test_dialects_say_which_take_a_json_schema():
    takes = {name for name, d in dialects.DIALECTS.items() if d.json_schema}
    assert takes == {"vllm", "sglang", "llamacpp", "openai"}
    body = {"model": "m", "messages": [], "max_tokens": 10, "response_format": {"type": "x"}}
    vllm = dialects.get("vllm").shape_once(body)
    assert vllm["stream"] is False and "stream_options" not in vllm and vllm["n"] == 1
    assert vllm["response_format"] == {"type": "x"}
    ollama = dialects.get("ollama").shape_once(body)
    assert "response_format" not in ollama and "n" not in ollama
    assert dialects.get("openai").shape_once(body)["max_completion_tokens"] == 10


# ------------------------------------------------------------------ the simulator


def judge_request(texts: list[str], prompt: str = "Say hi", structured: bool = True
                  ) -> dict[str, Any]:
    return judge.request_body("fanout-sim", prompt, CRITERIA, items(*texts),
                              json_schema=structured, strict_subset=False,
                              max_tokens_limit=4096)


def test_the_simulator_judges_deterministically():
    assert sim_judge.MARKER == judge.MARKER and sim_judge.SCHEMA_NAME == judge.SCHEMA_NAME
    texts = ["one two three", "a b c d e f g h i j k l"]
    for structured in (True, False):
        answer = sim_judge.answer(judge_request(texts, structured=structured))
        assert answer is not None
        parsed = json.loads(answer)["judgements"]
        assert parsed[0] == {"response": 1, "scores": {"correctness": 4, "clarity": 7},
                             "rationale": "Response 1 has 3 words."}
        # 12 words: 1 + 12 % 10 = 3; 1 + (12 + 3) % 10 = 6
        assert parsed[1]["scores"] == {"correctness": 3, "clarity": 6}
    assert sim_judge.answer({"messages": [{"role": "user", "content": "hi"}]}) is None


def test_the_simulator_answers_badly_when_told():
    texts = ["one two three", "four five"]
    prompt = "Say hi [[judge: fenced, strings]]"
    answer = sim_judge.answer(judge_request(texts, prompt))
    rows, problems = judge.read_answer(answer, CRITERIA, items(*texts))
    assert codes(problems) == ["fenced", "wrapped"] + ["score_string"] * 4
    assert [r["total"] for r in rows] == [11, 9]  # 4+7 and (1+2)+(1+5)
    for mode, expected in [("prose", ["not_json"]),
                           ("partial", ["partial", "missing_response"]),
                           ("range", ["score_out_of_range"]),
                           ("missing", ["missing_criterion"]), ("html", [])]:
        answer = sim_judge.answer(judge_request(texts, f"[[judge: {mode}]]"))
        assert codes(judge.read_answer(answer, CRITERIA, items(*texts))[1]) == expected, mode


# ------------------------------------------------------------------ the route, end to end


def with_dialects(request: pytest.FixtureRequest) -> dict[str, Any]:
    """A store, a short judge timeout, and the simulator also as an `ollama` upstream (no
    structured output: the marker only) and the slow `faulty` one."""
    simulator = request.getfixturevalue("simulator")
    faulty = request.getfixturevalue("faulty")
    return {**store_in_tmp(request), "judge_timeout": 2.0, "upstreams": {
        "sim": {"base_urls": [simulator.base_url], "api_key_env": KEY_ENV},
        "plain": {"base_urls": [simulator.base_url], "api_key_env": KEY_ENV,
                  "dialect": "ollama"},
        "faulty": {"base_urls": [faulty.base_url]},
        "allow": {"base_urls": [simulator.base_url], "api_key_env": KEY_ENV,
                  "models": ["fanout-sim"]},
    }}


JUDGE = pytest.mark.parametrize("fanout_overrides", [with_dialects], indirect=True)

TEXTS = {"7": "Rivers flow north here.", "9": "The Danube flows east through ten countries.",
         "11": ""}


async def stored_batch(jp_fetch: Any, batch_id: str = "j1") -> None:
    await put(jp_fetch, batch_id, "direct", body=BATCH)
    for rid, text in TEXTS.items():
        over: dict[str, Any] = {"model": f"secret-model-{rid}", "text": text}
        if not text:
            over.update(status="error", error={"message": "boom", "code": "x"})
        await put(jp_fetch, batch_id, "direct", rid, "1", body=attempt(**over))
    # A second attempt of response 7, longer.
    await put(jp_fetch, batch_id, "direct", "7", "2",
              body=attempt(model="secret-model-7", text="Rivers flow north here, mostly."))


def expected_scores(text: str, names: list[str]) -> dict[str, int]:
    words = len(text.split())
    return {n: sim_judge.score(words, i) for i, n in enumerate(names)}


def judge_records(simulator: Any) -> list[dict]:
    return [r for r in simulator.requests()
            if r["messages"] and judge.MARKER in json.dumps(r["messages"])]


@JUDGE
async def test_judge_a_stored_batch_against_the_simulator(jp_fetch, jp_serverapp, simulator,
                                                         no_unhandled_errors):
    simulator.reset()
    simulator.configure(api_key=API_KEY, tokens_per_second=2000, ttft_ms=5)
    await stored_batch(jp_fetch)
    result = await api(jp_fetch, "batches", "j1", "judge", method="POST",
                       body={"upstream": "sim", "rubric": "accuracy: is it true\nstyle"})
    assert result["batchId"] == "j1" and result["upstream"] == "sim"
    assert result["model"] == "fanout-sim" and result["structured"] is True
    assert result["rubric"] == [{"name": "accuracy", "description": "is it true"},
                                {"name": "style", "description": ""}]
    # Response 11 failed without text: left out, and said so.
    assert codes(result["problems"]) == ["skipped"]
    assert "Response 11 (attempt 1) has no answer text (error)" in \
        result["problems"][0]["message"]
    rows = {r["responseId"]: r for r in result["rows"]}
    assert set(rows) == {"7", "9"}
    latest7 = "Rivers flow north here, mostly."
    assert rows["7"]["attempt"] == 2 and rows["7"]["label"] == "Response 1"
    assert rows["7"]["scores"] == expected_scores(latest7, ["accuracy", "style"])
    assert rows["9"]["scores"] == expected_scores(TEXTS["9"], ["accuracy", "style"])
    assert rows["9"]["model"] == "secret-model-9"  # revealed in the table, not to the judge
    for row in result["rows"]:
        assert row["total"] == sum(row["scores"].values())
    assert [r["total"] for r in result["rows"]] == sorted(
        (r["total"] for r in result["rows"]), reverse=True)
    assert json.loads(result["raw"])["judgements"][0]["rationale"] == "Response 1 has 5 words."
    # What the judge saw: the stored prompt and texts, neutral labels, no model names or ids.
    [record] = judge_records(simulator)
    seen = json.dumps(record["messages"])
    assert "secret-model" not in seen and "Name a river" in seen and "Danube" in seen
    assert "response 7" not in seen.lower() and "## Response 2" in seen
    assert "response_format" in record["keys"] and record["stream"] is False
    assert record["temperature"] == 0 and record["headers"]["authorization"] == f"Bearer {API_KEY}"
    # Stored and listed, newest first.
    again = await api(jp_fetch, "batches", "j1", "judge", method="POST",
                      body={"upstream": "sim", "responseIds": ["9"]})
    listed = (await api(jp_fetch, "batches", "j1", "judgements"))["judgements"]
    assert [j["id"] for j in listed] == [again["id"], result["id"]]
    assert listed[1]["rows"] == result["rows"] and listed[1]["raw"] == result["raw"]
    assert [r["responseId"] for r in again["rows"]] == ["9"]
    assert again["rubric"] == [dict(c) for c in judge.DEFAULT_RUBRIC]
    assert again["rows"][0]["scores"] == expected_scores(TEXTS["9"], ["overall"])
    # An earlier attempt by name.
    # A long prompt is cut for the judge, and said so.
    await put(jp_fetch, "long", "direct", body={**BATCH, "prompt": "p" * (judge.MAX_PROMPT_CHARS + 5)})
    await put(jp_fetch, "long", "direct", "1", "1", body=attempt(text="short answer"))
    cut = await api(jp_fetch, "batches", "long", "judge", method="POST", body={"upstream": "sim"})
    assert codes(cut["problems"]) == ["cut"] and "16,000 characters" in cut["problems"][0]["message"]
    first = await api(jp_fetch, "batches", "j1", "judge", method="POST",
                      body={"upstream": "sim", "responseIds": ["7"], "attempts": {"7": 1}})
    assert first["rows"][0]["attempt"] == 1
    assert first["rows"][0]["scores"] == expected_scores(TEXTS["7"], ["overall"])
    # Deleting the batch deletes its judgements.
    await api(jp_fetch, "batches", "j1", method="DELETE")
    code, message = await api_error(jp_fetch, "batches", "j1", "judgements")
    assert code == 404 and "no batch 'j1'" in message


@JUDGE
async def test_without_structured_output_the_instructions_and_the_reader_do(
        jp_fetch, jp_serverapp, simulator, no_unhandled_errors):
    simulator.reset()
    simulator.configure(api_key=API_KEY, tokens_per_second=2000, ttft_ms=5)
    await put(jp_fetch, "j2", "direct",
              body={**BATCH, "prompt": "Name a river [[judge: fenced, range]]"})
    await put(jp_fetch, "j2", "direct", "1", "1", body=attempt(text="The Rhine."))
    await put(jp_fetch, "j2", "direct", "2", "1", body=attempt(text="The Seine, in Paris."))
    result = await api(jp_fetch, "batches", "j2", "judge", method="POST",
                       body={"upstream": "plain", "model": "fanout-sim"})
    assert result["structured"] is False and result["dialect"] == "ollama"
    assert codes(result["problems"]) == ["fenced", "wrapped", "score_out_of_range"]
    assert "```json" in result["raw"]
    rows = {r["responseId"]: r for r in result["rows"]}
    assert rows["1"]["scores"] == {"overall": None} and rows["1"]["total"] is None
    assert rows["2"]["scores"] == expected_scores("The Seine, in Paris.", ["overall"])
    assert result["rows"][0]["responseId"] == "2"  # a total first, the row without one last
    [record] = judge_records(simulator)
    assert "response_format" not in record["keys"]


@JUDGE
async def test_bad_requests_are_400s_naming_the_field(jp_fetch, jp_serverapp, simulator,
                                                       no_unhandled_errors):
    await stored_batch(jp_fetch)
    await put(jp_fetch, "j3", "direct", body=BATCH)
    await put(jp_fetch, "j3", "direct", "1", "1",
              body=attempt(status="running", text="so far", finish_reason=None, ended_at=None))
    cases = [
        ("j1", {"upstream": "elsewhere"}, 400, "'upstream': there is no configured upstream"
                                                " 'elsewhere'"),
        ("j1", {"upstream": "allow", "model": "other"}, 400, "'model': 'other' is not allowed"
                                                              " on upstream 'allow'"),
        ("j1", {"responseIds": ["7", "99"]}, 400, "'responseIds': batch 'j1' has no response"
                                                   " '99'"),
        ("j1", {"responseIds": ["11"]}, 400, "response '11' attempt 1 has no answer text"),
        ("j1", {"attempts": {"7": 5}}, 400, "'attempts.7': response '7' has no attempt 5"),
        ("j1", {"rubric": "a\na"}, 400, "names the criterion 'a' twice"),
        ("j1", {"temperature": 1}, 400, "unknown field 'temperature'"),
        ("j3", {}, 400, "batch 'j3' has no ended response with text"),
        ("nope", {}, 404, "no batch 'nope'"),
    ]
    for batch_id, body, status, message in cases:
        code, got = await api_error(jp_fetch, "batches", batch_id, "judge", method="POST",
                                    body=body)
        assert (code, message in got) == (status, True), (body, code, got)
    response = await jp_fetch("fanout", "batches", "j1", "judge", method="POST", body=b"{",
                              raise_error=False)
    assert response.code == 400 and b"not JSON" in response.body
    assert (await api(jp_fetch, "batches", "j1", "judgements"))["judgements"] == []


async def disconnected(sim: Any, within: float) -> bool:
    """Whether the simulator's last request was closed by its client within `within` s (polled
    without blocking the loop the Jupyter server runs on)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        records = sim.requests()
        if records and records[-1]["disconnected"]:
            return True
        await asyncio.sleep(0.05)
    return False


@JUDGE
async def test_a_judge_that_hangs_times_out_and_is_closed(jp_fetch, jp_serverapp, faulty,
                                                          no_unhandled_errors):
    faulty.configure(ttft_ms=60000)
    await stored_batch(jp_fetch)
    code, message = await api_error(jp_fetch, "batches", "j1", "judge", method="POST",
                                    body={"upstream": "faulty", "model": "fanout-sim"})
    assert code == 504 and "did not answer within 2 s (c.Fanout.judge_timeout)" in message
    assert await disconnected(faulty, within=2.0)


@JUDGE
async def test_a_client_that_goes_away_cancels_the_judge_request(
        jp_fetch, jp_serverapp, faulty, no_unhandled_errors):
    faulty.configure(ttft_ms=60000)
    await stored_batch(jp_fetch)
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("fanout", "batches", "j1", "judge", method="POST",
                       body=json.dumps({"upstream": "faulty", "model": "fanout-sim"}),
                       request_timeout=0.5)
    assert info.value.code == 599  # the client gave up and closed its connection
    # Before the 2 s judge_timeout: the server closed the upstream request when the client left.
    assert await disconnected(faulty, within=1.2)
    # Its slot of the stream budget is given back.
    await asyncio.sleep(0.05)
    assert jp_serverapp.web_app.settings["fanout_state"].user_streams.count(judge.BUDGET_KEY) == 0


@JUDGE
async def test_an_upstream_error_is_a_502_with_its_message(jp_fetch, jp_serverapp, faulty,
                                                          no_unhandled_errors):
    faulty.configure(faults=[{"kind": "http_error", "status": 503,
                              "message": "the GPU is on fire"}])
    await stored_batch(jp_fetch)
    code, message = await api_error(jp_fetch, "batches", "j1", "judge", method="POST",
                                    body={"upstream": "faulty", "model": "fanout-sim"})
    assert code == 503 and "the judge request failed: the GPU is on fire" in message


class _FakeUpstream:
    name = "gpu"

    def scrub(self, text: str) -> str:
        return text.replace("sk-secret", "***")


def test_parse_completion_reads_the_message_and_scrubs_the_key():
    from jupyterlab_fanout import completion
    from jupyterlab_fanout.errors import FanoutError

    up: Any = _FakeUpstream()
    body = {"choices": [{"message": {"content": [{"type": "text", "text": "{\"a\": "},
                                                 {"type": "text", "text": "1} sk-secret"}],
                                     "reasoning_content": "hm"},
                         "finish_reason": "length"}], "usage": {"completion_tokens": 3}}
    got = completion.parse_completion(json.dumps(body).encode(), up)
    assert (got.content, got.reasoning, got.finish_reason) == ('{"a": 1} ***', "hm", "length")
    assert got.usage == {"completion_tokens": 3}
    for raw, whole, message in [(b"<html>", True, "did not answer with a chat completion"),
                                (b'{"choices": []}', True, "a chat completion"),
                                (b'{"choi', False, "the connection closed mid-answer")]:
        with pytest.raises(FanoutError) as info:
            completion.parse_completion(raw, up, whole)
        assert info.value.status == 502 and message in info.value.message


async def test_the_judge_routes_require_authentication(jp_fetch, jp_serverapp):
    port = jp_serverapp.port
    client = tornado.httpclient.AsyncHTTPClient()
    for method, path in (("GET", "batches/x/judgements"), ("POST", "batches/x/judge")):
        with pytest.raises(tornado.httpclient.HTTPClientError) as info:
            await client.fetch(f"http://127.0.0.1:{port}{jp_serverapp.base_url}fanout/{path}",
                               method=method, body=b"{}" if method == "POST" else None)
        assert info.value.code in (302, 403), path


@pytest.mark.parametrize("fanout_overrides", [{"store_path": ""}], indirect=True)
async def test_without_a_store_the_judge_says_so(jp_fetch, jp_serverapp, no_unhandled_errors):
    code, message = await api_error(jp_fetch, "batches", "x", "judge", method="POST", body={})
    assert code == 404 and "the batch store is disabled" in message


def no_streams(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {**store_in_tmp(request), "max_streams_per_user": 0}


@pytest.mark.parametrize("fanout_overrides", [no_streams], indirect=True)
async def test_the_judge_takes_a_stream_of_the_servers_budget(jp_fetch, jp_serverapp,
                                                               no_unhandled_errors):
    from jupyterlab_fanout.handlers import _budget_key

    assert judge.BUDGET_KEY == _budget_key(None)
    await put(jp_fetch, "b", "direct", body=BATCH)
    await put(jp_fetch, "b", "direct", "1", "1", body=attempt())
    code, message = await api_error(jp_fetch, "batches", "b", "judge", method="POST", body={})
    assert code == 429 and "max_streams_per_user" in message
    assert jp_serverapp.web_app.settings["fanout_state"].user_streams.count(judge.BUDGET_KEY) == 0


@JUDGE
async def test_the_judge_asks_for_no_more_than_the_models_context_leaves(
        jp_fetch, jp_serverapp, simulator, no_unhandled_errors):
    simulator.reset()
    simulator.configure(api_key=API_KEY, tokens_per_second=2000, ttft_ms=5, max_model_len=900)
    try:
        await stored_batch(jp_fetch)
        # The listing gives the model's context length (vLLM's max_model_len).
        listed = await api(jp_fetch, "upstreams")
        sim = next(u for u in listed["upstreams"] if u["name"] == "sim")
        assert sim["context_lengths"] == {"fanout-sim": 900}
        result = await api(jp_fetch, "batches", "j1", "judge", method="POST",
                           body={"upstream": "sim"})
        [record] = judge_records(simulator)
        assert record["max_tokens"] < 900 - 300 and record["status"] == 200
        assert [r["total"] is not None for r in result["rows"]] == [True, True]
    finally:
        simulator.reset()
        simulator.configure(api_key=API_KEY, **FAST)
