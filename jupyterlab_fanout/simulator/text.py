"""Deterministic generated text, cut into tokens.

A token is a short string such as " word", ".", "\\n\\n", "```", "é", "中" or "🙂".
The answer is a small markdown document (prose paragraphs, a fenced Python block,
sometimes a list) whose blocks are never cut, so its markdown stays well-formed; the
last paragraph is sized so that the answer has exactly the requested number of tokens.
The text deliberately contains what trips client parsers: multi-byte characters,
a literal backslash-n, words ending in "n" right before a newline, braces and quotes.
"""
from __future__ import annotations

import json
import random
import re
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

_TOKEN = re.compile(
    r"```|\n+| {2,}| ?[A-Za-z0-9_]+| ?[^\x00-\x7f]| ?[^\sA-Za-z0-9_]| |[\s\S]"
)

_NOUNS = (
    "value list result function loop key table input output item string number answer "
    "step record field name file line order count total version idea case"
).split()
_ADJECTIVES = "simple small clear short stable readable careful explicit plain robust".split()
_VERBS = "check sort count print parse build test read split change".split()
# List items end with one of these: a word ending in "n" right before a newline.
_N_WORDS = "again then open clean version function pattern plan token column".split()
# Closing sentences made of single-token words, cut to size for the last sentence.
_CLOSERS = (
    "That is all you need for this small example and the rest of the code stays the same",
    "This should work for most inputs and you can adapt it to your own data later",
    "Let me know if you want a longer version with tests and more comments in the code",
)

_ANSWER_SENTENCES = (
    "The <noun> returns a <adj> <noun> for each <noun>.",
    "You can <verb> the <noun> with a <adj> <noun>.",
    "This keeps the <noun> <adj> and easy to <verb>.",
    "In practice, the <noun> is <adj> enough for most cases.",
    'A dict such as {"a": 1} maps each <noun> to its <noun>.',
    "Use `\\n` inside a string to break a <noun> in two.",
    "It also handles text like café, naïve, Zürich or 中文 without trouble 🙂.",
    "Note that the <noun> stays <adj> even when the <noun> grows.",
    "First <verb> the <noun>, then <verb> the <noun> again.",
    'The call f("x") gives {"key": "value"} back, which is <adj>.',
)
_REASONING_SENTENCES = (
    "Okay, the user wants a <noun> that can <verb> the <noun>.",
    "Let me think about how the <noun> should look.",
    "First, I need to check the <noun> and the <noun>.",
    "Hmm, maybe a <adj> <noun> is better here.",
    "Wait, the <noun> could be empty, so I should handle that.",
    'I will show a short Python example with a dict like {"a": 1}.',
    "The answer should be <adj> and mention the <noun>.",
    "Über-complicated code would not help; keep it <adj> 🙂.",
)
_CODE_SNIPPETS = (
    'def greet(name):\n    if not name:\n        return\n    print(f"Hello, {name}!\\n")',
    'import json\n\ndata = {"a": 1, "b": [2, 3]}\ntext = json.dumps(data)\n'
    'print(text.replace(",", ",\\n"))',
    'rows = ["café", "naïve", "中文"]\nfor row in rows:\n    print(row, len(row), end="\\n")',
    "def mean(values):\n    if not values:\n        return 0.0\n"
    "    return sum(values) / len(values)",
)
_PARAGRAPH_BREAK = "\n\n"


class Completion(NamedTuple):
    """The tokens of one completion; the first `reasoning` of them are reasoning, the rest content."""

    tokens: List[str]
    reasoning: int


#: A prompt directive for a controlled short final answer (agreement / self-consistency tests):
#: `[[final: 42 | 41 | 42.0]]` anywhere in the last user message. The request that arrives k-th
#: (its arrival index in the simulator's record, 0 after a reset) answers with choice
#: k mod len(choices), as `FINAL_TEMPLATE`: N requests in a row over N choices give each once.
FINAL_DIRECTIVE = re.compile(r"\[\[final:([^\]\n]*)\]\]")
FINAL_TEMPLATE = "Let me work this out step by step.\n\nAnswer:\n{answer}"


def final_answer(prompt: str, arrival: int) -> Optional[str]:
    """The answer text a `[[final: ...]]` directive in `prompt` gives the `arrival`-th request,
    or None without one (or with no choice in it)."""
    match = FINAL_DIRECTIVE.search(prompt)
    if match is None:
        return None
    choices = [c.strip() for c in match.group(1).split("|") if c.strip()]
    if not choices:
        return None
    return FINAL_TEMPLATE.format(answer=choices[arrival % len(choices)])


def tokenize(text: str) -> List[str]:
    """Split text into tokens; "".join(tokenize(t)) == t for every text."""
    return _TOKEN.findall(text)


def completion_tokens(
    key: object, reasoning_tokens: int, answer_tokens: int, reasoning_format: str,
    answer_text: Optional[str] = None,
) -> Completion:
    """The full token sequence of one completion, reasoning first, for a JSON-able key.

    `think` wraps the reasoning in `<think>`/`</think>` tokens inside the content
    (three extra tokens); `none` drops the reasoning. A given `answer_text` is the
    answer, tokenized, instead of a generated one.
    """
    seed = json.dumps(key, sort_keys=True, ensure_ascii=False)
    thinking = _exact_prose(random.Random(seed + "|reasoning"), reasoning_tokens,
                            _REASONING_SENTENCES)
    answer = (tokenize(answer_text) if answer_text is not None
              else _answer(random.Random(seed + "|answer"), answer_tokens))
    if reasoning_format == "none" or not thinking:
        return Completion(answer, 0)
    if reasoning_format == "think":
        return Completion(["<think>", *thinking, "</think>", _PARAGRAPH_BREAK, *answer], 0)
    return Completion(thinking + answer, len(thinking))


def _answer(rng: random.Random, size: int) -> List[str]:
    """A markdown answer of exactly `size` tokens."""
    tokens: List[str] = []
    for block in _answer_blocks(rng):
        separator = [_PARAGRAPH_BREAK] if tokens else []
        if len(tokens) + len(separator) + len(block) > size:
            break
        tokens += separator + block
    remaining = size - len(tokens)
    if tokens and remaining == 1:
        return tokens + ["\n"]
    if tokens and remaining > 1:
        tokens.append(_PARAGRAPH_BREAK)
        remaining -= 1
    return tokens + _exact_prose(rng, remaining, _ANSWER_SENTENCES)


def _answer_blocks(rng: random.Random):
    """An endless supply of blocks: an intro, a code block, then prose, lists and code."""
    yield _paragraph(rng, 2)
    yield _code_block(rng)
    makers: Sequence[Callable[[random.Random], List[str]]] = (
        lambda r: _paragraph(r, r.randint(1, 3)),
        lambda r: _paragraph(r, r.randint(1, 3)),
        lambda r: _paragraph(r, r.randint(1, 3)),
        _bullet_list,
        _code_block,
    )
    while True:
        yield rng.choice(makers)(rng)


# Each sentence template, tokenized once: its tokens with a placeholder for every slot, and
# the slots in the order they are filled (nouns, then adjectives, then verbs, each left to
# right; the order of the random draws is part of the seeded output). A slot is always a
# whole token: a word after a space.
_SLOTS = (("<noun>", _NOUNS), ("<adj>", _ADJECTIVES), ("<verb>", _VERBS))


class _Template(NamedTuple):
    tokens: Tuple[str, ...]
    slots: Tuple[Tuple[int, Sequence[str]], ...]


def _template(text: str) -> _Template:
    placeholders = {f"slot{i}x": (i, slot, words) for i, (slot, words) in enumerate(_SLOTS)}
    for name, (_, slot, _) in placeholders.items():
        text = text.replace(slot, name)
    tokens = tokenize(text)
    slots = []
    for position, token in enumerate(tokens):
        if token.lstrip(" ") in placeholders:
            order, _, words = placeholders[token.lstrip(" ")]
            slots.append((order, position, words))
    assert len(slots) == sum(text.count(name) for name in placeholders), text
    return _Template(tuple(tokens), tuple((p, w) for _, p, w in sorted(slots, key=lambda s: s[:2])))


_TEMPLATES: Dict[Tuple[str, bool], _Template] = {
    (text, first): _template(text if first else " " + text)
    for text in _ANSWER_SENTENCES + _REASONING_SENTENCES
    for first in (True, False)
}


def _sentence(rng: random.Random, template: str, first: bool) -> List[str]:
    """The template's tokens with each slot filled by a random word of its kind."""
    tokens, slots = _TEMPLATES[template, first]
    filled = list(tokens)
    for position, words in slots:
        filled[position] = (" " if filled[position][0] == " " else "") + rng.choice(words)
    return filled


def _paragraph(rng: random.Random, sentences: int) -> List[str]:
    tokens: List[str] = []
    for i in range(sentences):
        tokens += _sentence(rng, rng.choice(_ANSWER_SENTENCES), first=i == 0)
    return tokens


def _code_block(rng: random.Random) -> List[str]:
    return tokenize("```python\n" + rng.choice(_CODE_SNIPPETS) + "\n```")


def _bullet_list(rng: random.Random) -> List[str]:
    items = [
        f"- {rng.choice(_VERBS).capitalize()} the {rng.choice(_NOUNS)} {rng.choice(_N_WORDS)}"
        for _ in range(rng.randint(2, 4))
    ]
    return tokenize("\n".join(items))


def _exact_prose(rng: random.Random, size: int, templates: Sequence[str]) -> List[str]:
    """Prose of exactly `size` tokens: random sentences while one fits, then a closer."""
    tokens: List[str] = []
    while True:
        remaining = size - len(tokens)
        candidates = (_sentence(rng, t, not tokens) for t in rng.sample(templates, len(templates)))
        sentence = next((c for c in candidates if len(c) <= remaining), None)
        if sentence is None:
            return tokens + _filler(rng, remaining, first=not tokens)
        tokens += sentence


def _filler(rng: random.Random, size: int, first: bool) -> List[str]:
    """A closing sentence of exactly `size` tokens (an emoji when only one is left)."""
    if size <= 0:
        return []
    if size == 1:
        return ["🙂" if first else " 🙂"]
    words = rng.choice(_CLOSERS).split()[: size - 1]
    tokens = [" " + word for word in words]
    if first:
        tokens[0] = words[0]
    return tokens + ["."]
