"""Judge requests (jupyterlab_fanout/judge.py): deterministic, predictable judgements.

A request is a judge request when its `response_format` carries the json_schema named
`fanout_judgement`, or its system message begins with the judge's marker (a dialect without
structured output). The answer is well-formed JSON matching the schema:

    {"judgements": [{"response": k, "scores": {criterion: score}, "rationale": "..."}]}

with, for Response k (the text between its fences) and the i-th criterion (0-based),
`score = 1 + (words + 3 * i) % 10`, `words` the number of whitespace-separated words of the
response, and the rationale "Response k has <words> words.". Tests compute the same.

A prompt directive `[[judge: mode, mode]]` anywhere in the judge's user message (the batch's
prompt is quoted there) answers badly on purpose, to test the defensive reader:
`fenced` (in a ```json block with text around it), `prose` (no JSON at all), `partial` (cut off
after the first judgement), `strings` (scores as text such as "7/10"), `range` (the first
response's first score is 42), `missing` (the first response lacks its last criterion), `html`
(the first rationale is markup that would run if it were rendered as HTML: `HOSTILE`).
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional

MARKER = "[fanout:judge v1]"
SCHEMA_NAME = "fanout_judgement"
DIRECTIVE = re.compile(r"\[\[judge:([^\]\n]*)\]\]")
_RESPONSE = re.compile(r"^## Response (\d+)\n\n(~{4,})\n(.*?)\n\2$", re.DOTALL | re.MULTILINE)
HOSTILE = '<img src="x" onerror="window.__fanoutJudgeXss = 1"><b>bold</b>'
_CRITERIA = re.compile(r"^## Criteria\n\n((?:- [^\n]*\n?)+)", re.MULTILINE)


def _text(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else ""


def _schema_criteria(body: Dict[str, Any]) -> Optional[List[str]]:
    fmt = body.get("response_format")
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    spec = fmt.get("json_schema")
    if not isinstance(spec, dict) or spec.get("name") != SCHEMA_NAME:
        return None
    try:
        names = spec["schema"]["properties"]["judgements"]["items"]["properties"]["scores"][
            "required"]
    except (KeyError, TypeError):
        return []
    return [n for n in names if isinstance(n, str)]


def score(words: int, criterion: int) -> int:
    return 1 + (words + 3 * criterion) % 10


def answer(body: Dict[str, Any]) -> Optional[str]:
    """The judge's answer to a judge request, or None when `body` is not one."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    criteria = _schema_criteria(body)
    system = _text(messages[0]) if messages[0].get("role") == "system" else ""
    if criteria is None and not system.startswith(MARKER):
        return None
    user = "\n".join(_text(m) for m in messages if isinstance(m, dict)
                     and m.get("role") == "user")
    if not criteria:
        found = _CRITERIA.search(user)
        lines = found.group(1).splitlines() if found else []
        criteria = [line[2:].split(":", 1)[0].strip() for line in lines if line.strip()]
    criteria = criteria or ["overall"]
    modes = set()
    for match in DIRECTIVE.finditer(user):
        modes.update(m.strip().lower() for m in match.group(1).split(",") if m.strip())
    judgements = []
    for match in _RESPONSE.finditer(user):
        number, text = int(match.group(1)), match.group(3)
        words = len(text.split())
        scores: Dict[str, Any] = {c: score(words, i) for i, c in enumerate(criteria)}
        judgements.append({"response": number, "scores": scores,
                           "rationale": f"Response {number} has {words} words."})
    if judgements and "range" in modes:
        judgements[0]["scores"][criteria[0]] = 42
    if judgements and "html" in modes:
        judgements[0]["rationale"] = HOSTILE
    if judgements and "missing" in modes:
        judgements[0]["scores"].pop(criteria[-1], None)
    if "strings" in modes:
        for j in judgements:
            j["scores"] = {c: f"{v}/10" for c, v in j["scores"].items()}
    if "prose" in modes:
        return ("I read every response carefully. " + " ".join(
            f"Response {j['response']} is fine." for j in judgements)).strip()
    text = json.dumps({"judgements": judgements}, ensure_ascii=False)
    if "partial" in modes and judgements:
        first = json.dumps(judgements[0], ensure_ascii=False)
        text = '{"judgements": [' + first + ', {"response": 2, "scores": {'
    if "fenced" in modes:
        text = f"Here is my judgement.\n\n```json\n{text}\n```\n\nI hope this helps."
    return text
