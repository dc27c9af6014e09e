"""Request policy, unit level: token limits, media and chat templates, key scrubbing.

The end-to-end attack suite for the same rules is in test_security_policy.py.
"""
from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from jupyterlab_fanout.config import ConfigError, UpstreamSpec, parse_upstream
from jupyterlab_fanout.errors import FanoutError
from jupyterlab_fanout.scrub import StreamScrubber, scrub_text, stream_scrubber
from jupyterlab_fanout.upstream import MESSAGE_LIMIT, Upstream, error_message
from jupyterlab_fanout.validation import build_body

from .test_config import resolve

KEY = "sk-policy-test-0123456789abcdef"
LIMIT = 32768


def upstream(**policy: Any) -> Upstream:
    spec = UpstreamSpec(name="u", base_urls=("http://127.0.0.1:1/v1",), api_key=KEY, **policy)
    return Upstream(spec, idle_timeout=1, connect_timeout=1, models_timeout=1,
                    log=logging.getLogger("test"))


def body(**request: Any) -> dict[str, Any]:
    request.setdefault("messages", [{"role": "user", "content": "hi"}])
    return request


def build(request: dict[str, Any], up: Upstream | None = None, default: int | None = 4096,
          limit: int = LIMIT) -> dict[str, Any]:
    return build_body(request, up or upstream(), limit, default)


def refused(request: dict[str, Any], up: Upstream | None = None) -> FanoutError:
    with pytest.raises(FanoutError) as e:
        build(request, up)
    return e.value


# ---------------------------------------------------------------- max_tokens


@pytest.mark.parametrize("request_extra", [{}, {"max_tokens": None}])
def test_a_missing_or_null_max_tokens_gets_the_server_default(request_extra):
    assert build(body(**request_extra))["max_tokens"] == 4096
    assert build(body(**request_extra), default=100)["max_tokens"] == 100
    # the default never exceeds the limit
    assert build(body(**request_extra), default=4096, limit=1000)["max_tokens"] == 1000


def test_max_completion_tokens_obeys_the_same_limit():
    e = refused(body(max_completion_tokens=LIMIT + 1))
    assert e.code == "limit" and "max_tokens_limit (32768)" in e.message
    assert "max_completion_tokens" in e.message
    e = refused(body(max_completion_tokens=0))
    assert e.code == "bad_request" and "max_completion_tokens" in e.message
    e = refused(body(max_tokens=10, max_completion_tokens=LIMIT + 1))
    assert e.code == "limit"
    sent = build(body(max_completion_tokens=300))
    assert sent["max_completion_tokens"] == 300 and sent["max_tokens"] == 300
    sent = build(body(max_completion_tokens=None))
    assert "max_completion_tokens" not in sent and sent["max_tokens"] == 4096
    sent = build(body(max_tokens=20))
    assert sent["max_tokens"] == 20 and "max_completion_tokens" not in sent


def test_default_max_tokens_is_configurable_and_checked():
    from traitlets.config import Config

    from jupyterlab_fanout.config import Fanout

    assert Fanout().default_max_tokens == 4096
    assert Fanout(config=Config({"Fanout": {"default_max_tokens": 7}})).default_max_tokens == 7
    with pytest.raises(ConfigError, match="default_max_tokens"):
        resolve({"u": {"base_urls": ["http://h/v1"]}}, default_max_tokens=0)


# ---------------------------------------------------------------- media


def parts(*content: Any) -> dict[str, Any]:
    return body(messages=[{"role": "user", "content": list(content)}])


TEXT = {"type": "text", "text": "what is this?"}
REMOTE = [
    ({"type": "image_url", "image_url": {"url": "http://169.254.169.254/latest/meta-data/"}},
     "image_url.url"),
    ({"type": "image_url", "image_url": "http://10.0.0.1/x.png"}, "image_url.url"),
    ({"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}, "image_url.url"),
    ({"type": "audio_url", "audio_url": {"url": "http://127.0.0.1:8888/api"}}, "audio_url.url"),
    ({"type": "video_url", "video_url": {"url": "https://internal/v.mp4"}}, "video_url.url"),
    ({"type": "file", "file": {"file_id": "file-abc"}}, "file.file_id"),
]
INLINE = [
    ({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
     "image_url.url"),
    ({"type": "image_url", "image_url": {"url": " DATA:image/png;base64,AAAA", "detail": "low"}},
     "image_url.url"),
    ({"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
     "input_audio.data"),
    ({"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE",
                               "filename": "a.pdf"}}, "file.file_data"),
]


@pytest.mark.parametrize("part, field", REMOTE + INLINE)
def test_media_is_refused_by_default_naming_the_field(part, field):
    e = refused(parts(TEXT, part))
    assert e.code == "bad_request" and e.status == 400
    assert f"messages[0].content[1].{field}" in e.message
    assert "not allowed on upstream 'u'" in e.message
    option = "allow_media_urls" if (part, field) in REMOTE else "allow_media_data"
    assert option in e.message


@pytest.mark.parametrize("part, field", REMOTE)
def test_inline_media_allowance_does_not_allow_urls(part, field):
    e = refused(parts(part), upstream(allow_media_data=True))
    assert f"{field}: media URLs" in e.message and "allow_media_urls" in e.message


@pytest.mark.parametrize("part, field", INLINE)
def test_inline_media_is_forwarded_where_allowed(part, field):
    for up in (upstream(allow_media_data=True), upstream(allow_media_urls=True)):
        assert build(parts(TEXT, part), up)["messages"][0]["content"][1] == part


@pytest.mark.parametrize("part, field", REMOTE)
def test_media_urls_are_forwarded_where_allowed(part, field):
    assert build(parts(part), upstream(allow_media_urls=True))["messages"][0]["content"] == [part]


EVERYWHERE = upstream(allow_media_urls=True, allow_media_data=True, allow_chat_template=True)


@pytest.mark.parametrize("part, fragment", [
    ({"type": "image_embeds", "image_embeds": "AAAA"}, "type 'image_embeds' is not accepted"),
    ({"type": "image_pil", "image_pil": "x"}, "type 'image_pil' is not accepted"),
    ({"type": "input_image", "image_url": "http://x/"}, "type 'input_image' is not accepted"),
    ({"image_url": {"url": "http://x/"}}, "type None is not accepted"),  # vLLM guesses the type
    ({"type": "text", "text": "x", "image_url": {"url": "http://x/"}},
     "content[0].'image_url' is not accepted in a text part"),
    ({"type": "image_url", "image_url": {"url": "http://x/"}, "audio_url": {"url": "http://y/"}},
     "'audio_url' is not accepted in a image_url part"),
    ({"type": "image_url", "image_url": {"url": "data:,", "uuid": "x"}},
     "image_url.'uuid' is not accepted"),
    ({"type": "file", "file": {"url": "http://x/"}}, "file.'url' is not accepted"),
    ({"type": "image_url", "image_url": {"detail": "low"}}, "carries no media"),
    ({"type": "image_url", "image_url": {"url": ["http://x/"]}}, "must be a string"),
    ({"type": "text", "text": {"url": "http://x/"}}, "text must be a string"),
    ("http://x/", "must be a JSON object"),
    ({"type": {"a": 1}}, "is not accepted"),
])
def test_malformed_or_unknown_parts_are_refused_even_where_media_is_allowed(part, fragment):
    e = refused(parts(part), EVERYWHERE)
    assert e.code == "bad_request" and fragment in e.message, e.message
    assert "messages[0].content[0]" in e.message


@pytest.mark.parametrize("message, fragment", [
    ({"role": "user", "content": "x", "images": ["http://x/"]}, "messages[0].'images'"),
    ({"role": "user", "content": {"type": "image_url", "image_url": {"url": "http://x/"}}},
     "messages[0].content must be a string or a list"),
])
def test_message_keys_are_allow_listed(message, fragment):
    e = refused(body(messages=[message]), EVERYWHERE)
    assert fragment in e.message


def test_text_messages_pass_unchanged():
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [TEXT, {"type": "text", "text": "http://x/ is text"}]},
        {"role": "assistant", "content": None, "tool_calls": [], "reasoning": "r"},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}], "name": "a"},
    ]
    assert build(body(messages=messages))["messages"] == messages


# ---------------------------------------------------------------- chat templates


TEMPLATE = "{% for m in messages %}{{ m.content }}{% endfor %}"


def test_request_chat_templates_are_refused_by_default():
    e = refused(body(chat_template=TEMPLATE))
    assert e.message.startswith("chat_template: ") and "allow_chat_template" in e.message
    e = refused(body(chat_template_kwargs={"chat_template": TEMPLATE}))
    assert e.message.startswith("chat_template_kwargs.'chat_template': ")
    assert "allow_chat_template" in e.message


def test_request_chat_templates_are_forwarded_where_allowed():
    up = upstream(allow_chat_template=True)
    sent = build(body(chat_template=TEMPLATE, chat_template_kwargs={"chat_template": TEMPLATE}),
                 up)
    assert sent["chat_template"] == TEMPLATE
    assert sent["chat_template_kwargs"] == {"chat_template": TEMPLATE}
    assert "too long" not in json.dumps(sent)
    assert refused(body(chat_template=["x"]), up).code == "bad_request"


@pytest.mark.parametrize("kwargs, fragment", [
    ({"tools": [{"type": "function"}]}, "'tools' is not accepted"),
    ({"tokenize": True}, "'tokenize' is not accepted"),
    ({"documents": []}, "'documents' is not accepted"),
    ({"a-b": 1}, "'a-b' is not accepted"),
    ({"thinking": {"type": "enabled"}}, "must be a string, number, boolean or null"),
    ({"x": "y" * 1001}, "at most 1000 characters"),
])
def test_chat_template_kwargs_are_named_scalars(kwargs, fragment):
    e = refused(body(chat_template_kwargs=kwargs), EVERYWHERE)
    assert e.message.startswith("chat_template_kwargs.") and fragment in e.message, e.message


def test_usual_chat_template_kwargs_pass():
    kwargs = {"enable_thinking": False, "reasoning_effort": "low", "thinking_budget": 512,
              "temperature_hint": 0.5, "nothing": None}
    assert build(body(chat_template_kwargs=kwargs))["chat_template_kwargs"] == kwargs
    assert "chat_template_kwargs" not in build(body(chat_template_kwargs=None))
    assert refused(body(chat_template_kwargs=["x"])).code == "bad_request"


def test_extra_body_style_fields_are_not_forwarded():
    sent = build(body(
        extra_body={"chat_template": TEMPLATE},
        mm_processor_kwargs={"url": "http://x/"}, media_io_kwargs={"video": {"num_frames": 1}},
        tools=[{"type": "function"}], documents=[{"url": "http://x/"}],
        echo=True, prompt_logprobs=5,
    ), EVERYWHERE)
    assert set(sent) == {"messages", "max_tokens", "stream", "n", "stream_options"}


def test_policy_options_are_parsed_and_checked():
    spec = parse_upstream("u", {"base_urls": ["http://h/v1"]}, {})
    assert (spec.allow_media_urls, spec.allow_media_data, spec.allow_chat_template) == (
        False, False, False)
    spec = parse_upstream("u", {"base_urls": ["http://h/v1"], "allow_media_urls": True,
                                "allow_media_data": True, "allow_chat_template": True}, {})
    assert (spec.allow_media_urls, spec.allow_media_data, spec.allow_chat_template) == (
        True, True, True)
    for key in ("allow_media_urls", "allow_media_data", "allow_chat_template"):
        with pytest.raises(ConfigError, match=key):
            parse_upstream("u", {"base_urls": ["http://h/v1"], key: "yes"}, {})


# ---------------------------------------------------------------- key scrubbing


def prefixes(key: str, shortest: int = 8) -> list[str]:
    return [key[:n] for n in range(shortest, len(key) + 1)]


def leaks(text: str, key: str = KEY) -> list[str]:
    return [p for p in prefixes(key) if p in text]


def test_a_key_straddling_the_message_limit_is_scrubbed_whole():
    for cut in range(0, len(KEY) + 1):
        message = "x" * (MESSAGE_LIMIT - cut) + KEY + " tail"
        raw = json.dumps({"error": {"message": message}}).encode()
        shown = error_message(400, raw, "u", upstream().scrub)
        assert not leaks(shown), (cut, shown[-40:])
        assert len(shown) <= MESSAGE_LIMIT


def scrub_stream(chunks: list[bytes], key: str = KEY) -> tuple[bytes, list[bytes]]:
    scrubber = StreamScrubber(key)
    out = [scrubber.feed(c) for c in chunks] + [scrubber.end()]
    return b"".join(out), out


def test_a_key_split_across_two_reads_is_scrubbed_at_every_cut():
    stream = b'data: {"error":{"message":"bad key Bearer ' + KEY.encode() + b'"}}\n\n'
    at = stream.index(KEY.encode())
    for cut in range(at - 2, at + len(KEY) + 2):
        joined, _ = scrub_stream([stream[:cut], stream[cut:]])
        assert joined == stream.replace(KEY.encode(), b"***"), cut
    # and across every read of a stream cut into single bytes
    joined, _ = scrub_stream([stream[i:i + 1] for i in range(len(stream))])
    assert joined == stream.replace(KEY.encode(), b"***")


def test_the_scrubber_holds_back_only_what_may_begin_the_key():
    event = b'data: {"choices":[{"delta":{"content":"sk-"}}]}\n\n'
    _, out = scrub_stream([event, event])
    assert out[:2] == [event, event]  # an SSE event ends with a newline: nothing held back
    _, out = scrub_stream([b"abc sk-pol", b"ite"])
    assert out == [b"abc ", b"sk-polite", b""]  # held, then released when it was not the key
    _, out = scrub_stream([b"abc sk-pol"])
    assert out == [b"abc ", b"sk-pol"]  # released at the end of the stream
    # a key form with JSON's escaped slash
    key = "abc/def/ghi/jkl"
    joined, _ = scrub_stream([b'"abc\\/def\\/g', b'hi\\/jkl" abc/def', b"/ghi/jkl"], key)
    assert joined == b'"***" ***'


def test_short_placeholder_keys_are_not_scrubbed_from_streams():
    assert stream_scrubber("EMPTY") is None and stream_scrubber(None) is None
    assert stream_scrubber(KEY) is not None
    assert scrub_text("key EMPTY", "EMPTY") == "key ***"  # messages: any length


def test_a_key_in_a_base_url_query_is_not_echoed_in_the_config_error():
    with pytest.raises(ConfigError) as e:
        resolve({"u": {"base_urls": ["http://h/v1?api_key=sk-secret-123456789"]}})
    assert "sk-secret" not in str(e.value) and "'http://h/v1'" in str(e.value)
    with pytest.raises(ConfigError) as e:
        resolve({"u": {"base_urls": ["http://h/v1#sk-secret-123456789"]}})
    assert "sk-secret" not in str(e.value)


# ---------------------------------------------------------------- continuing a response

CONTINUED = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hel"}]


def test_continue_final_message_is_forwarded_with_an_assistant_prefix():
    built = build(body(messages=CONTINUED, continue_final_message=True,
                       add_generation_prompt=False))
    assert built["continue_final_message"] is True and built["add_generation_prompt"] is False
    # null: left out, as if absent
    built = build(body(continue_final_message=None, add_generation_prompt=None))
    assert "continue_final_message" not in built and "add_generation_prompt" not in built


@pytest.mark.parametrize("extra, fragment", [
    ({"continue_final_message": "yes"}, "'continue_final_message' must be true or false"),
    ({"add_generation_prompt": 1}, "'add_generation_prompt' must be true or false"),
    ({"continue_final_message": True, "messages": CONTINUED},
     "needs 'add_generation_prompt': false"),
    ({"continue_final_message": True, "add_generation_prompt": False},
     "the last message to be the assistant's"),
])
def test_continue_final_message_is_checked(extra, fragment):
    e = refused(body(**extra))
    assert e.code == "bad_request" and fragment in e.message
