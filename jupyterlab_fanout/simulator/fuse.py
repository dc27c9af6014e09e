"""What the simulator answers to the extension's fuse and checklist prompts (src/fuse/prompt.ts).

They are recognised by the marker the extension's prompt templates put at the start of the
system message, never guessed from the text: `[[fanout:fuse]]` (merge the drafts) and
`[[fanout:checklist]]` (list the distinct points as JSON). The drafts are in the last user
message, each between `=== Draft <k> (response <id>) ===` and `=== End of draft <k> ===`; a
fuse prompt following a checklist lists the points under `Cover exactly these points:` as
`- <point>` lines.

- A fuse prompt is answered `Fused answer from <k> drafts.`, then one list item per draft
  quoting its first non-empty line, then the points it was asked to cover (numbered), then a closing
  sentence: deterministic, so a test can compare the text with the record.
- A checklist prompt is answered with JSON `{"points": [{"text", "drafts": [k, ...]}]}`: one
  point all the drafts share, then one per draft naming its first line. When the request's
  `response_format` asks for JSON it is the bare JSON; otherwise (as a server without
  structured output might) it is inside a fenced block with a sentence around it.
- `[[checklist: malformed]]` anywhere in the user message makes the checklist answer JSON
  cut off in the middle, to test how the extension reads a bad answer.
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional, Tuple

FUSE_MARKER = "[[fanout:fuse]]"
CHECKLIST_MARKER = "[[fanout:checklist]]"
MALFORMED_DIRECTIVE = "[[checklist: malformed]]"
_DRAFT = re.compile(r"^=== Draft (\d+) \(response ([^)\n]*)\) ===\n(.*?)\n=== End of draft \1 ===$",
                    re.S | re.M)
_POINTS = re.compile(r"^Cover exactly these points:\n((?:- .*(?:\n|$))+)", re.M)


def _text(message: Dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict)
                       and isinstance(p.get("text"), str))
    return ""


def _marker(messages: List[Dict[str, Any]]) -> Optional[str]:
    for message in messages:
        if message.get("role") == "system":
            text = _text(message).lstrip()
            for marker in (FUSE_MARKER, CHECKLIST_MARKER):
                if text.startswith(marker):
                    return marker
    return None


def drafts(prompt: str) -> List[Tuple[int, str, str]]:
    """The drafts of a fuse or checklist prompt: (number, response id, first non-empty line)."""
    found = []
    for match in _DRAFT.finditer(prompt):
        first = next((line.strip() for line in match.group(3).splitlines() if line.strip()), "")
        found.append((int(match.group(1)), match.group(2), first))
    return found


def points(prompt: str) -> List[str]:
    """The points a fuse prompt asks to cover (empty: none listed)."""
    match = _POINTS.search(prompt)
    if match is None:
        return []
    return [line[2:].strip() for line in match.group(1).splitlines() if line.startswith("- ")]


def _quote(line: str, limit: int = 80) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"


def fuse_answer(prompt: str) -> str:
    found = drafts(prompt)
    lines = [f"Fused answer from {len(found)} drafts.", ""]
    lines += [f'- Draft {k} begins: "{_quote(first)}"' for k, _, first in found]
    asked = points(prompt)
    if asked:
        lines += ["", f"Covering {len(asked)} points:"]
        lines += [f"{i}. {p}" for i, p in enumerate(asked, 1)]
    lines += ["", "Together they give one answer that keeps what each draft does best."]
    return "\n".join(lines)


def checklist_points(prompt: str) -> List[Dict[str, Any]]:
    found = drafts(prompt)
    out: List[Dict[str, Any]] = [{"text": "All drafts answer the same question in prose and code.",
                                  "drafts": [k for k, _, _ in found]}]
    out += [{"text": f"Draft {k} opens with: {_quote(first, 60)}", "drafts": [k]}
            for k, _, first in found]
    return out


def checklist_answer(prompt: str, structured: bool) -> str:
    if MALFORMED_DIRECTIVE in prompt:
        return '{"points": [{"text": "An unfinished point", "drafts": [1'
    data = json.dumps({"points": checklist_points(prompt)}, ensure_ascii=False)
    if structured:
        return data
    return f"Here are the distinct points:\n\n```json\n{data}\n```\n\nTick the ones to keep."


def wants_json(body: Dict[str, Any]) -> bool:
    """True when the request's `response_format` asks for JSON (json_schema or json_object)."""
    fmt = body.get("response_format")
    return isinstance(fmt, dict) and fmt.get("type") in ("json_schema", "json_object")


def directed_answer(messages: List[Dict[str, Any]], body: Dict[str, Any]) -> Optional[str]:
    """The answer to a fuse or checklist prompt, or None for any other request."""
    marker = _marker(messages)
    if marker is None:
        return None
    prompt = next((_text(m) for m in reversed(messages) if m.get("role") == "user"), "")
    if marker == FUSE_MARKER:
        return fuse_answer(prompt)
    return checklist_answer(prompt, wants_json(body))
