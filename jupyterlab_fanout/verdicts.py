"""Verdicts on a stored batch (issue 17): which response won (`pick`) and how each attempt is
rated (1..5 stars). The checks of the REST bodies live here; store.py keeps the values
(`batches.pick_response`, `batches.pick_attempt`, `attempts.rating`, schema step 3).

- `PUT fanout/batches/<id>/pick` with `{"responseId": "2", "attempt": 1}` (attempt optional:
  the response's latest), or `{"responseId": null}` to clear.
- `PUT fanout/batches/<id>/responses/<response id>/rating` with `{"rating": 1..5 | null,
  "attempt": n}` (attempt optional).

A body that is not what these say is a 400 whose message names the field.
"""
from __future__ import annotations

import json
from typing import Any, Optional

from .store import RATING_MAX, RATING_MIN, StoreError

#: Longest response id accepted (the store's ids are short: "1", "12", ...).
MAX_ID_LENGTH = 200
#: Largest body of a verdict (a few fields).
MAX_BODY_BYTES = 4096


def parse(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise StoreError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body or b"null")
    except ValueError:
        raise StoreError(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise StoreError(400, "the body must be a JSON object")
    return data


def _attempt(data: dict[str, Any]) -> Optional[int]:
    value = data.get("attempt")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise StoreError(400, f"'attempt' must be a positive integer or absent, not {value!r}")
    return value


def response_id(value: Any, field: str = "responseId") -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise StoreError(
            400, f"'{field}' must be a non-empty string of at most {MAX_ID_LENGTH} characters"
                 f" (or null to clear), not {json.dumps(value)[:80]}")
    return value


def check_pick(data: dict[str, Any]) -> tuple[Optional[str], Optional[int]]:
    """(response id or None to clear, attempt or None for the latest)."""
    if "responseId" not in data:
        raise StoreError(400, "'responseId' is missing (a response id, or null to clear)")
    unknown = set(data) - {"responseId", "attempt"}
    if unknown:
        raise StoreError(400, f"unknown field {sorted(unknown)[0]!r}: use responseId and attempt")
    if data["responseId"] is None:
        if data.get("attempt") is not None:
            raise StoreError(400, "'attempt' must be absent when 'responseId' is null")
        return None, None
    return response_id(data["responseId"]), _attempt(data)


def check_rating(data: dict[str, Any]) -> tuple[Optional[int], Optional[int]]:
    """(rating or None to clear, attempt or None for the latest)."""
    if "rating" not in data:
        raise StoreError(400, f"'rating' is missing ({RATING_MIN} to {RATING_MAX}, or null"
                              " to clear)")
    unknown = set(data) - {"rating", "attempt"}
    if unknown:
        raise StoreError(400, f"unknown field {sorted(unknown)[0]!r}: use rating and attempt")
    rating = data["rating"]
    if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int)
                               or not RATING_MIN <= rating <= RATING_MAX):
        raise StoreError(400, f"'rating' must be an integer from {RATING_MIN} to {RATING_MAX}"
                              f" or null, not {json.dumps(rating)[:80]}")
    return rating, _attempt(data)
