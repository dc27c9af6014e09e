"""Blind votes between a batch's responses, the batches' tags, and the leaderboard they feed.

Kept in the batch store's SQLite file, in tables of their own created at open when missing
(`migrate`, one step of the store's opening, like `direct_batches`): a file an earlier version
wrote needs no upgrade, and an earlier version opening this file ignores them. Deleting a batch
deletes its votes and tags (ON DELETE CASCADE).

- `POST fanout/votes` `{batchId, a, b, outcome}` (`outcome`: a, b, tie, both-bad) or
  `{batchId, ranking: [response ids, best first]}` (2 to 64 distinct responses: stored as the
  pairs it implies, one group). Each side is recorded with the upstream, model and attempt of
  the response's latest attempt at the time of the vote. Errors are 400s naming the field: an
  unknown batch or response, the same response twice, a response still running, a bad outcome.
  **A pair of one model** (same upstream and model) is accepted and stored with
  `same_model: true`, but the leaderboard leaves it out: it says nothing about models.
- `GET fanout/votes?batchId=&limit=`: the votes, newest first.
- `PUT fanout/batches/<id>/tags` `{tags: [...]}`: a batch's tags (replaced whole).
- `GET fanout/leaderboard?tags=t1,t2&format=json|csv`: per upstream and model (leaderboard.py);
  with tags, only the votes of batches that carry every tag given.
"""
from __future__ import annotations

import csv
import io
import sqlite3
import time
import uuid
from typing import Any, Optional

from . import leaderboard
from .store import StoreError

MIGRATION = (
    """CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY,
    vote_id TEXT NOT NULL,
    batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    outcome TEXT NOT NULL,
    a TEXT NOT NULL, a_attempt INTEGER NOT NULL, a_upstream TEXT NOT NULL, a_model TEXT NOT NULL,
    b TEXT NOT NULL, b_attempt INTEGER NOT NULL, b_upstream TEXT NOT NULL, b_model TEXT NOT NULL,
    same_model INTEGER NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS votes_batch ON votes (batch_id)",
    """CREATE TABLE IF NOT EXISTS batch_tags (
    batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (batch_id, tag)
)""",
    "CREATE INDEX IF NOT EXISTS batch_tags_tag ON batch_tags (tag)",
)

OUTCOMES = ("a", "b", "tie", "both-bad")
#: Score of side A per outcome ("both bad" is a tie: neither is preferred).
SCORE = {"a": 1.0, "b": 0.0, "tie": 0.5, "both-bad": 0.5}
MAX_TAGS = 32
MAX_TAG_LENGTH = 64
MAX_RANKING = 64
CSV_COLUMNS = ("rank", "model", "upstream", "score", "ci_low", "ci_high", "votes", "wins",
               "losses", "ties")


def migrate(db: sqlite3.Connection) -> None:
    """The votes' tables (inside the store's opening transaction)."""
    for statement in MIGRATION:
        db.execute(statement)


def _bad(message: str) -> StoreError:
    return StoreError(400, message)


def _text(body: dict, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > 200:
        raise _bad(f"{name!r} must be a non-empty string of at most 200 characters")
    return value


def check_tags(value: Any) -> list[str]:
    """A list of distinct tags: strings of 1-64 characters after trimming, without commas."""
    if not isinstance(value, list):
        raise _bad("'tags' must be a list of strings")
    if len(value) > MAX_TAGS:
        raise _bad(f"'tags' may hold at most {MAX_TAGS} tags")
    tags: list[str] = []
    for k, tag in enumerate(value):
        if not isinstance(tag, str) or not tag.strip():
            raise _bad(f"tags[{k}] must be a non-empty string")
        tag = tag.strip()
        if len(tag) > MAX_TAG_LENGTH or "," in tag or any(ord(c) < 32 for c in tag):
            raise _bad(f"tags[{k}] must be at most {MAX_TAG_LENGTH} characters, without commas"
                       " or control characters")
        if tag not in tags:
            tags.append(tag)
    return tags


def parse_tag_filter(value: str) -> list[str]:
    """`?tags=a,b` as a list (empty: no filter)."""
    return check_tags([t for t in value.split(",") if t.strip()]) if value else []


def _latest(db: sqlite3.Connection, batch_id: str) -> dict[str, tuple[int, str, str, str]]:
    """Each response's latest attempt: `{response: (attempt, upstream, model, status)}`."""
    rows = db.execute(
        "SELECT a.response_id, a.attempt, a.upstream, a.model, a.status FROM attempts a JOIN"
        " (SELECT response_id, max(attempt) AS attempt FROM attempts WHERE batch_id = ? GROUP BY"
        " response_id) l ON a.response_id = l.response_id AND a.attempt = l.attempt WHERE"
        " a.batch_id = ?", (batch_id, batch_id)).fetchall()
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


def record(db: sqlite3.Connection, body: Any) -> dict[str, Any]:
    """Check and store one vote (see the module note); answers it as `list_votes` does."""
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object")
    unknown = set(body) - {"batchId", "a", "b", "outcome", "ranking"}
    if unknown:
        raise _bad(f"unknown field {sorted(unknown)[0]!r}")
    batch_id = _text(body, "batchId")
    if "ranking" in body:
        if any(k in body for k in ("a", "b", "outcome")):
            raise _bad("give either 'ranking' or 'a', 'b' and 'outcome', not both")
        ranking = body["ranking"]
        if not isinstance(ranking, list) or not 2 <= len(ranking) <= MAX_RANKING \
                or not all(isinstance(r, str) and r for r in ranking):
            raise _bad(f"'ranking' must be a list of 2 to {MAX_RANKING} response ids")
        pairs = [(ranking[i], ranking[j], "a") for i in range(len(ranking))
                 for j in range(i + 1, len(ranking))]
    else:
        outcome = body.get("outcome")
        if outcome not in OUTCOMES:
            raise _bad(f"'outcome' must be one of {', '.join(OUTCOMES)}")
        pairs = [(_text(body, "a"), _text(body, "b"), outcome)]
    if not db.execute("SELECT 1 FROM batches WHERE id = ?", (batch_id,)).fetchone():
        raise _bad(f"'batchId': no batch {batch_id!r}")
    latest = _latest(db, batch_id)
    seen: set[str] = set()
    for a, b, _ in pairs:
        if a == b:
            raise _bad(f"the same response {a!r} twice: a vote compares two responses")
        for side in (a, b):
            if side in seen:
                continue
            seen.add(side)
            if side not in latest:
                raise _bad(f"batch {batch_id!r} has no response {side!r}")
            if latest[side][3] == "running":
                raise _bad(f"response {side!r} is still running: vote when it has ended")
    vote_id = uuid.uuid4().hex
    at = time.time()
    db.execute("BEGIN IMMEDIATE")
    try:
        for a, b, outcome in pairs:
            la, lb = latest[a], latest[b]
            db.execute(
                "INSERT INTO votes (vote_id, batch_id, created_at, outcome, a, a_attempt,"
                " a_upstream, a_model, b, b_attempt, b_upstream, b_model, same_model) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (vote_id, batch_id, at, outcome, a, la[0], la[1], la[2], b, lb[0], lb[1], lb[2],
                 int(la[1:3] == lb[1:3])))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return {"id": vote_id, "votes": list_votes(db, vote_id=vote_id)}


def list_votes(db: sqlite3.Connection, batch_id: str = "", limit: int = 1000,
               vote_id: str = "") -> list[dict[str, Any]]:
    where, args = [], []
    if batch_id:
        where.append("batch_id = ?")
        args.append(batch_id)
    if vote_id:
        where.append("vote_id = ?")
        args.append(vote_id)
    sql = ("SELECT vote_id, batch_id, created_at, outcome, a, a_attempt, a_upstream, a_model, b,"
           " b_attempt, b_upstream, b_model, same_model FROM votes")
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = db.execute(sql + " ORDER BY created_at DESC, id LIMIT ?", (*args, limit)).fetchall()
    return [{
        "id": r[0], "batchId": r[1], "created_at": r[2], "outcome": r[3],
        "a": {"response": r[4], "attempt": r[5], "upstream": r[6], "model": r[7]},
        "b": {"response": r[8], "attempt": r[9], "upstream": r[10], "model": r[11]},
        "same_model": bool(r[12]),
    } for r in rows]


def set_tags(db: sqlite3.Connection, batch_id: str, tags: list[str]) -> dict[str, Any]:
    db.execute("BEGIN IMMEDIATE")
    try:
        if not db.execute("SELECT 1 FROM batches WHERE id = ?", (batch_id,)).fetchone():
            raise StoreError(404, f"no batch {batch_id!r}")
        db.execute("DELETE FROM batch_tags WHERE batch_id = ?", (batch_id,))
        db.executemany("INSERT INTO batch_tags (batch_id, tag) VALUES (?, ?)",
                       [(batch_id, t) for t in tags])
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return {"id": batch_id, "tags": tags}


def tags_of(db: sqlite3.Connection, batch_id: str) -> list[str]:
    return [t for (t,) in db.execute(
        "SELECT tag FROM batch_tags WHERE batch_id = ? ORDER BY rowid", (batch_id,))]


def all_tags(db: sqlite3.Connection) -> list[str]:
    return [t for (t,) in db.execute("SELECT DISTINCT tag FROM batch_tags ORDER BY tag")]


def board(db: sqlite3.Connection, tags: list[str], *, bootstrap: int = leaderboard.BOOTSTRAP,
          prior: float = leaderboard.PRIOR) -> dict[str, Any]:
    """The leaderboard over the votes (of the batches carrying every tag in `tags`)."""
    sql = ("SELECT vote_id, outcome, a_upstream, a_model, b_upstream, b_model FROM votes"
           " WHERE same_model = 0")
    args: list[Any] = []
    for tag in tags:
        sql += " AND batch_id IN (SELECT batch_id FROM batch_tags WHERE tag = ?)"
        args.append(tag)
    comparisons, groups = [], []
    for vote_id, outcome, au, am, bu, bm in db.execute(sql + " ORDER BY id", args):
        comparisons.append(((au, am), (bu, bm), SCORE[outcome]))
        groups.append(vote_id)
    rows = leaderboard.rate(comparisons, groups, bootstrap=bootstrap, prior=prior)
    out = []
    for row in rows:
        upstream, model = row.pop("player")
        out.append({"rank": row["rank"], "model": model, "upstream": upstream,
                    **{k: _round(row[k]) for k in ("score", "ci_low", "ci_high", "strength")},
                    **{k: row[k] for k in ("votes", "wins", "losses", "ties")}})
    skipped = db.execute("SELECT count(*) FROM votes WHERE same_model = 1").fetchone()[0]
    return {"rows": out, "tags": tags, "comparisons": len(comparisons),
            "same_model_skipped": skipped,
            "method": {"model": "bradley-terry", "ties": "half a win each; both-bad is a tie",
                       "prior": prior, "bootstrap": bootstrap, "seed": leaderboard.SEED,
                       "level": leaderboard.LEVEL}}


def _round(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 4)


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet does not run as a formula."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        text = "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
    return out.getvalue()


__all__ = ["OUTCOMES", "board", "check_tags", "list_votes", "migrate", "record", "set_tags",
           "tags_of", "to_csv"]
