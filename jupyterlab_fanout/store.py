"""The durable store of batches: SQLite (standard library), WAL mode, one file per user.

Nothing here blocks the event loop:

- every write goes through ONE writer thread fed by a queue; whatever is queued is written in
  one transaction;
- the raw SSE bytes of a running attempt are appended, on the event loop, to a bytearray of its
  `Recording` (nothing else per chunk). About once a second (`flush_interval`) the writer
  thread takes them, has them read (`SSEReader`, incremental: a line cut between two flushes
  waits for its end) and appends the text and reasoning they added to `chunks` (one INSERT for
  all running attempts), so a SIGKILL loses at most about a second. Raw bytes never reach the
  disk (about 290 bytes per token from vLLM against about 5 of text);
- the reading (JSON of every event: most of the store's CPU) is done in a process of the
  store's own (`ParseWorker`, store_worker.py), one round trip per flush for all running
  attempts, so that it takes neither the proxy's CPU nor its GIL. If it cannot start or dies,
  the writer thread reads the bytes itself from then on (logged; a line cut at that moment is
  lost). It ends when the store closes, or when the server dies (its stdin closes);
- when an attempt ends, its text and reasoning, usage, finish reason, metrics and status are
  written to its `attempts` row and its chunks are dropped. An attempt that never ended (the
  server was killed) is finished from its chunks when the store is next opened: `incomplete`;
- reads run in a one-thread executor on their own connection.

Search (schema version 2; a version-1 file is upgraded in place when opened): SQLite's FTS5
indexes the titles and prompts and every attempt's text and reasoning, kept in step by triggers
(insert, end, rename, delete, import, retention). A search is the words a user typed, never
FTS5's query language: each word (a run of letters and digits) must begin a word somewhere in
the batch (any case, accents ignored); a search of punctuation only looks for itself as it is.
A running attempt's text is searched in its chunks, as flushed (about every second), by
substring. Without FTS5 (checked when the store opens) the same search runs with LIKE
(substrings); the index triggers are dropped then, and the index is rebuilt from the rows when
a SQLite with FTS5 opens the file again. Text that SQLite cannot store (lone UTF-16
surrogates from JSON escapes) is kept with U+FFFD in their place.

A store that cannot be opened or written never breaks streaming: the error is logged once,
`state()` reports it (in `GET fanout/upstreams`; it stays reported until the server restarts,
even when later writes succeed again: what that transaction held is lost), and the proxy goes
on. A file that is not a database or is corrupt is moved aside (`<name>.corrupt-<time>`) and a
new one is created.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import os
import pickle
import queue
import re
import select
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Union

from .digest import Digest

if TYPE_CHECKING:  # not at run time: the reader process imports this module, not tornado
    from .logs import Log


#: 1: batches, attempts, chunks. 2: the full-text index (`FTS_TABLES`, `FTS_TRIGGERS`).
#: 3: verdicts, the winner of a batch and the ratings of attempts (`_migrate_verdicts`).
SCHEMA_VERSION = 3
#: Chunk rows one INSERT writes at most (4 values each, under SQLite's 32766 variables).
CHUNK_ROWS_PER_INSERT = 500
#: Longest default title (the prompt's first line), in characters.
TITLE_LENGTH = 200

SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    title TEXT NOT NULL,
    prompt TEXT NOT NULL,
    options TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS batches_created ON batches (created_at);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    response_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    upstream TEXT NOT NULL,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    finish_reason TEXT,
    text TEXT NOT NULL DEFAULT '',
    reasoning TEXT NOT NULL DEFAULT '',
    usage TEXT,
    metrics TEXT,
    started_at REAL NOT NULL,
    ended_at REAL
);
CREATE INDEX IF NOT EXISTS attempts_batch ON attempts (batch_id, response_id, attempt);
CREATE TABLE IF NOT EXISTS chunks (
    attempt_id INTEGER NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    text TEXT NOT NULL,
    reasoning TEXT NOT NULL,
    PRIMARY KEY (attempt_id, seq)
);
"""

#: Lowest and highest rating of an attempt (stars); NULL is "not rated".
RATING_MIN, RATING_MAX = 1, 5


def _migrate_verdicts(db: sqlite3.Connection) -> None:
    """Schema step 3 (issue 17, pick and rate): the batch's winner (`pick_response`,
    `pick_attempt`, NULL when none) and each attempt's `rating` (1..5, NULL when none). Plain
    columns added in place, so a file of an earlier version keeps every row."""
    have = {row[1] for row in db.execute("PRAGMA table_info(batches)")}
    if "pick_response" not in have:
        db.execute("ALTER TABLE batches ADD COLUMN pick_response TEXT")
    if "pick_attempt" not in have:
        db.execute("ALTER TABLE batches ADD COLUMN pick_attempt INTEGER")
    if "rating" not in {row[1] for row in db.execute("PRAGMA table_info(attempts)")}:
        db.execute("ALTER TABLE attempts ADD COLUMN rating INTEGER")


#: Schema steps past version 2, each a function of its own (run in order, in the open's
#: transaction, on a file whose `user_version` is below the step).
MIGRATIONS: dict[int, Any] = {3: _migrate_verdicts}

#: Batches the browser recorded in direct mode (direct_record.py): only these can be written
#: over `PUT fanout/batches/<id>/direct`. A table of its own, created when missing at open.
DIRECT_SCHEMA = """CREATE TABLE IF NOT EXISTS direct_batches (
    id TEXT PRIMARY KEY REFERENCES batches (id) ON DELETE CASCADE
)"""

#: Search (schema version 2): SQLite's FTS5 over the batches' titles and prompts (a table of
#: its own, small) and the attempts' text and reasoning (external content: the `attempts`
#: rows, indexed but not copied), kept in step by triggers whoever writes (the writer thread,
#: a rename on the reader's connection, a cascade of a delete). Without FTS5 the triggers are
#: dropped (the tables, if any, go stale) and search reads with LIKE; when FTS5 is there
#: again the index is rebuilt at open.
FTS_TOKENIZER = "unicode61 remove_diacritics 2"
FTS_TABLES = (
    "CREATE VIRTUAL TABLE batches_fts USING fts5(batch_id UNINDEXED, title, prompt,"
    f" tokenize = '{FTS_TOKENIZER}')",
    "CREATE VIRTUAL TABLE attempts_fts USING fts5(text, reasoning, content = 'attempts',"
    f" content_rowid = 'id', tokenize = '{FTS_TOKENIZER}')",
)
FTS_TRIGGERS = {
    "batches_fts_insert": "AFTER INSERT ON batches BEGIN INSERT INTO batches_fts"
    " (batch_id, title, prompt) VALUES (new.id, new.title, new.prompt); END",
    "batches_fts_update": "AFTER UPDATE OF id, title, prompt ON batches BEGIN DELETE FROM"
    " batches_fts WHERE batch_id = old.id; INSERT INTO batches_fts (batch_id, title, prompt)"
    " VALUES (new.id, new.title, new.prompt); END",
    "batches_fts_delete": "AFTER DELETE ON batches BEGIN DELETE FROM batches_fts WHERE"
    " batch_id = old.id; END",
    "attempts_fts_insert": "AFTER INSERT ON attempts BEGIN INSERT INTO attempts_fts"
    " (rowid, text, reasoning) VALUES (new.id, new.text, new.reasoning); END",
    "attempts_fts_update": "AFTER UPDATE OF text, reasoning ON attempts BEGIN INSERT INTO"
    " attempts_fts (attempts_fts, rowid, text, reasoning) VALUES ('delete', old.id, old.text,"
    " old.reasoning); INSERT INTO attempts_fts (rowid, text, reasoning) VALUES (new.id,"
    " new.text, new.reasoning); END",
    "attempts_fts_delete": "AFTER DELETE ON attempts BEGIN INSERT INTO attempts_fts"
    " (attempts_fts, rowid, text, reasoning) VALUES ('delete', old.id, old.text,"
    " old.reasoning); END",
}
#: Words one search may hold at most.
MAX_SEARCH_WORDS = 32
#: What a search reads as its words: runs of letters and digits (FTS5's unicode61 splits on
#: everything else, `_` included).
_WORDS = re.compile(r"[^\W_]+")

#: The error of an attempt a dead server left `running` (SIGKILL, crash), recorded when the
#: store is next opened: the browser shows it as the reason the response is incomplete.
SERVER_DIED = {
    "code": "server_died",
    "message": "the Jupyter server stopped (killed or crashed) while this response was"
               " streaming; the text stored until then is kept",
}

#: Statuses of an attempt. `running` only while the server that started it lives.
STATUSES = ("running", "complete", "stopped", "error", "incomplete")


class StoreError(Exception):
    """A request to the store that cannot be answered (unknown batch, store off)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# -- SSE ----------------------------------------------------------------------------------


class SSEReader:
    """An OpenAI-style chat completion stream, read tolerantly and incrementally: malformed
    events, unknown fields and comments are skipped; a line cut between two `feed`s waits for
    its end. Reasoning is `delta.reasoning` or, when absent, `delta.reasoning_content`; text is
    `delta.content`. The text and reasoning read so far are kept as lists of pieces."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.usage: Optional[dict] = None
        self.finish_reason: Optional[str] = None
        self.error: Optional[dict] = None
        self.done = False
        #: The model the upstream named in its chunks (the request may have named none).
        self.model: Optional[str] = None
        self.bytes = 0
        self._tail = b""

    def feed(self, data: bytes, final: bool = False) -> tuple[str, str]:
        """Read `data`; returns the (text, reasoning) it added. `final`: no more bytes come,
        a last line without its newline is read too."""
        self.bytes += len(data)
        data = self._tail + data
        end = len(data) if final else data.rfind(b"\n") + 1
        self._tail = data[end:]
        text_from, reasoning_from = len(self.text), len(self.reasoning)
        if end:
            payloads = []
            for raw in data[:end].split(b"\n"):
                if raw.startswith(b"data:"):
                    payload = raw[5:].strip()
                    if payload == b"[DONE]":
                        self.done = True
                    elif payload:
                        payloads.append(payload)
            if payloads:
                for event in _decode(payloads):
                    if isinstance(event, dict):
                        self.read_event(event)
        return "".join(self.text[text_from:]), "".join(self.reasoning[reasoning_from:])

    def read_event(self, event: dict[str, Any]) -> None:
        """One event's JSON object (from `feed`, or from the digest's reading, store_worker.py)."""
        if self.model is None and isinstance(event.get("model"), str):
            self.model = event["model"]
        if event.get("error") is not None:
            error = event["error"]
            self.error = error if isinstance(error, dict) else {"message": str(error)}
            return
        usage = event.get("usage")
        if isinstance(usage, dict):
            self.usage = usage
        choices = event.get("choices")
        if not isinstance(choices, list):
            return
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                thought = delta.get("reasoning")
                if thought is None:
                    thought = delta.get("reasoning_content")
                if isinstance(thought, str) and thought:
                    self.reasoning.append(thought)
                content = delta.get("content")
                if isinstance(content, str) and content:
                    self.text.append(content)
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])


def _decode(payloads: list[bytes]) -> list[Any]:
    """The JSON values of many events: one `json.loads` of them all as an array (half the
    cost of one call each), or, when one is malformed, each alone (the malformed skipped).
    Upstream-crafted lines that are malformed alone but valid joined could be read differently
    from the browser's parser; only what the store keeps of that upstream's own text changes."""
    try:
        events = json.loads(b"[" + b",".join(payloads) + b"]")
        if len(events) == len(payloads):  # else lines were malformed in a way that joins
            return events
    except (ValueError, RecursionError):
        pass
    events = []
    for payload in payloads:
        try:
            events.append(json.loads(payload))
        except (ValueError, RecursionError):
            pass
    return events


def parse_sse(data: bytes) -> SSEReader:
    """All of a stream at once (see SSEReader); `.text` and `.reasoning` joined into strings."""
    reader = SSEReader()
    reader.feed(data, final=True)
    reader.text = "".join(reader.text)  # type: ignore[assignment]
    reader.reasoning = "".join(reader.reasoning)  # type: ignore[assignment]
    return reader


def _clean(text: str) -> str:
    """`text` as SQLite can store it: UTF-16 surrogates paired into their character, a lone
    one (JSON's `\\ud800` escape; the browser shows U+FFFD) as U+FFFD."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def split_wire_id(wire: str) -> tuple[str, int]:
    """`"3.2"` → response "3", attempt 2 (src/model/batch.ts `wireId`); anything else is
    attempt 1 of a response of that id."""
    head, dot, tail = wire.rpartition(".")
    if dot and head and tail.isdigit():
        return head, int(tail)
    return wire, 1


def default_title(prompt: str) -> str:
    for line in prompt.splitlines():
        if line.strip():
            return line.strip()[:TITLE_LENGTH]
    return "(no prompt)"


def prompt_of(request: Any) -> str:
    """The last user message's text of a chat request (for a batch the browser did not name)."""
    messages = request.get("messages") if isinstance(request, dict) else None
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "\n".join(
                    p["text"] for p in content
                    if isinstance(p, dict) and isinstance(p.get("text"), str)
                )
    return ""


# -- recording ----------------------------------------------------------------------------


_RECORDING_KEYS = itertools.count()


@dataclass(eq=False)
class Recording:
    """One attempt being recorded. The event loop appends to `pending`; the writer thread
    takes what is there (copy, then delete that many bytes from the front: each step is one
    operation under the GIL, so appends in between are kept)."""

    batch_id: str
    response_id: str
    attempt: int
    started_at: float
    pending: bytearray = field(default_factory=bytearray)
    first_byte_at: Optional[float] = None
    #: The row id in `attempts`, the reader of its bytes, its next chunk (writer thread only).
    row: Optional[int] = None
    reader: SSEReader = field(default_factory=SSEReader)
    seq: int = 0
    #: Names its reader in the reader process (never reused, unlike a rolled-back row id).
    key: int = field(default_factory=lambda: next(_RECORDING_KEYS))
    #: What an attach replays first (digest.py): the reader process digests the bytes taken.
    digest: Digest = field(init=False)

    def __post_init__(self) -> None:
        self.digest = Digest(self.pending)

    def data(self, chunk: bytes) -> None:
        if self.first_byte_at is None:
            self.first_byte_at = time.time()
        self.pending += chunk

    def take(self) -> bytes:
        return self.digest.take()


class ParseWorker:
    """The store's reader process (store_worker.py), used by the writer thread only."""

    #: Seconds an answer may take before the process is given up.
    TIMEOUT = 30.0

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.error: Optional[str] = None

    @classmethod
    def start(cls, log: Log) -> Optional["ParseWorker"]:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]);"
                 " from jupyterlab_fanout.store_worker import main; main()", root],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
                # Signals sent to the server's process group (Ctrl-C, a supervisor's SIGTERM)
                # must not end it before the server's last flush: it ends when its stdin closes.
                start_new_session=True)
        except OSError as e:
            log.error("fanout: the batch store's reader process cannot start (%s); text is"
                      " read in the server", e)
            return None
        return cls(proc)

    def read(self, batch: list[tuple[int, bytes, bool]]) -> Optional[list[tuple]]:
        """The answers to `batch` (store_worker.py), or None if the process failed (then
        it is stopped; `error` says why)."""
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        try:
            blob = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
            stdin.write(struct.pack("<I", len(blob)) + blob)
            stdin.flush()
            if not select.select([stdout], [], [], self.TIMEOUT)[0]:
                raise TimeoutError(f"no answer in {self.TIMEOUT:g} s")
            head = stdout.read(4)
            if len(head) < 4:
                raise EOFError(f"it exited ({self.proc.poll()})")
            (size,) = struct.unpack("<I", head)
            answers = pickle.loads(stdout.read(size))
            if len(answers) != len(batch):
                raise ValueError("an answer of another length")
            return answers
        except Exception as e:  # noqa: BLE001 - reported by the caller; reading goes on here
            self.error = f"{type(e).__name__}: {e}"
            self.close()
            return None

    def close(self) -> None:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class BatchStore:
    """See the module comment. `open()` starts the writer thread (which opens the file)."""

    def __init__(
        self,
        path: str,
        *,
        log: Log,
        max_batches: int = 0,
        max_bytes: int = 0,
        flush_interval: float = 1.0,
        fts: Optional[bool] = None,
        parse_process: bool = True,
    ):
        self.path = path
        #: Read the running attempts' bytes in a process of their own (`ParseWorker`).
        self.parse_process = parse_process
        self._worker: Optional[ParseWorker] = None
        #: Search with FTS5: None when this SQLite has it (found at open), False never (LIKE).
        self.fts = fts
        self.log = log
        self.max_batches = max_batches
        self.max_bytes = max_bytes
        self.flush_interval = flush_interval
        self.ok = True
        self.error: Optional[str] = None
        #: For tests: a page limit set on the writer's connection (simulates a full disk).
        self.max_page_count: Optional[int] = None
        self._queue: "queue.Queue[tuple]" = queue.Queue()
        self._thread: Optional[threading.Thread] = None
        self._opened = threading.Event()
        self._db: Optional[sqlite3.Connection] = None
        self._live: dict[int, Recording] = {}
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fanout-store-read")
        self._read_db: Optional[sqlite3.Connection] = None
        self._closed = False
        self._logged: set[str] = set()

    # -- life cycle (event loop side) -----------------------------------------------------

    def open(self) -> None:
        self._thread = threading.Thread(target=self._writer, name="fanout-store-write", daemon=True)
        self._thread.start()

    async def close(self) -> None:
        """Flush every pending byte and close (stop_extension)."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(("close",))
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 10)
        await asyncio.get_running_loop().run_in_executor(self._reader, self._close_reader)
        self._reader.shutdown(wait=False)

    @property
    def reader_pid(self) -> Optional[int]:
        """The reader process's id, while there is one (benchmarks, tests)."""
        worker = self._worker
        return worker.proc.pid if worker is not None else None

    def state(self) -> dict[str, Any]:
        return {"ok": self.ok, "error": self.error, "path": os.path.basename(self.path)}

    # -- recording (event loop side: only queue puts) -------------------------------------

    def batch(self, batch_id: str, prompt: str, options: Any) -> None:
        """A batch exists (created on first use; a second socket of the same batch adds to it)."""
        if not self._closed:
            self._queue.put(("batch", batch_id, time.time(), prompt, options))

    def start(self, batch_id: str, wire_id: str, upstream: str, request: Any) -> Optional[Recording]:
        """A new attempt to record; None when the store could not be opened (nothing kept)."""
        if self._opened.is_set() and self._db is None:
            return None
        response_id, attempt = split_wire_id(wire_id)
        recording = Recording(batch_id, response_id, attempt, time.time())
        if not self._closed:
            self._queue.put(("start", recording, upstream, request))
        return recording

    def end(self, recording: Recording, kind: str, error: Optional[dict] = None) -> None:
        """`kind`: end (the upstream closed its stream), stopped, or error (with `error`)."""
        if not self._closed:
            self._queue.put(("end", recording, kind, error, time.time()))

    async def sync(self) -> None:
        """Wait until everything queued so far is written."""
        if self._closed or self._thread is None:
            return
        done: Future[None] = Future()
        self._queue.put(("sync", done))
        await asyncio.wrap_future(done)

    async def call_in_writer(self, fn: Any) -> Any:
        """Run `fn(connection)` on the writer thread, between transactions (tests, tools)."""
        done: Future[Any] = Future()
        self._queue.put(("call", fn, done))
        return await asyncio.wrap_future(done)

    # -- writer thread --------------------------------------------------------------------

    def _fail(self, what: str, e: BaseException) -> None:
        message = f"{what}: {e}"
        self.ok = False
        self.error = message
        if message not in self._logged:
            self._logged.add(message)
            self.log.error("fanout: the batch store %s %s (streaming goes on)", self.path, message)

    def _connect(self) -> sqlite3.Connection:
        directory = os.path.dirname(self.path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA busy_timeout = 5000")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"schema version {version} is newer than this version's ({SCHEMA_VERSION})"
                )
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {check}")
            if db.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
                raise sqlite3.OperationalError("cannot use WAL mode")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            if self.fts is None:
                self.fts = _has_fts5(db)
            db.execute("BEGIN IMMEDIATE")
            try:
                found = db.execute("PRAGMA user_version").fetchone()[0]
                if found < SCHEMA_VERSION:
                    if found < 2:
                        # New, or version 1 (upgraded in place: the index is built below).
                        for statement in SCHEMA.split(";"):
                            if statement.strip():
                                db.execute(statement)
                    for step in sorted(MIGRATIONS):
                        if found < step:
                            MIGRATIONS[step](db)
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                # Which batches the browser recorded in direct mode (direct_record.py); a table
                # of its own, so that a file earlier versions wrote needs no upgrade.
                db.execute(DIRECT_SCHEMA)
                # Votes and tags (votes.py): tables of their own, created when missing.
                from . import votes  # not at import: votes.py imports this module
                votes.migrate(db)
                # Judgements (judge.py): a table of its own, created when missing.
                from . import judge
                judge.migrate(db)
                # Follow-ups' threads (followups.py): a table of its own, created when missing.
                from . import followups
                followups.migrate(db)
                # Fused responses (fusions.py): a table of its own, created when missing.
                from . import fusions
                fusions.migrate(db)
                self._fts_in_step(db)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except BaseException:
            db.close()
            raise
        return db

    def _fts_in_step(self, db: sqlite3.Connection) -> None:
        """With FTS5: the index tables and their triggers, built from the rows if any trigger
        was missing (a version-1 file, or one written without FTS5). Without: no triggers."""
        triggers = {name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%\\_fts\\_%'"
            " ESCAPE '\\'")}
        if not self.fts:
            for name in triggers:
                db.execute(f"DROP TRIGGER {name}")
            return
        if triggers == set(FTS_TRIGGERS):
            return
        for name in triggers:
            db.execute(f"DROP TRIGGER {name}")
        db.execute("DROP TABLE IF EXISTS batches_fts")
        db.execute("DROP TABLE IF EXISTS attempts_fts")
        for statement in FTS_TABLES:
            db.execute(statement)
        for name, body in FTS_TRIGGERS.items():
            db.execute(f"CREATE TRIGGER {name} {body}")
        db.execute("INSERT INTO batches_fts (batch_id, title, prompt)"
                   " SELECT id, title, prompt FROM batches")
        db.execute("INSERT INTO attempts_fts (attempts_fts) VALUES ('rebuild')")
        self.log.info("fanout: the batch store %s built its search index", self.path)

    def _open_db(self) -> None:
        try:
            try:
                self._db = self._connect()
            except sqlite3.DatabaseError as e:
                if isinstance(e, sqlite3.OperationalError):
                    raise
                aside = f"{self.path}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}"
                self.log.error("fanout: the batch store %s is unreadable (%s): moved to %s",
                               self.path, e, aside)
                os.replace(self.path, aside)
                for suffix in ("-wal", "-shm"):
                    if os.path.exists(self.path + suffix):
                        os.replace(self.path + suffix, aside + suffix)
                self._db = self._connect()
                self.error = f"the store file was unreadable and was moved to {os.path.basename(aside)}"
            if self.max_page_count:
                self._db.execute(f"PRAGMA max_page_count = {int(self.max_page_count)}")
            self._recover()
        except Exception as e:  # noqa: BLE001 - the store is off, streaming goes on
            self._db = None
            self._fail("cannot be opened", e)

    def _recover(self) -> None:
        """Attempts left `running` by a server that died: parse their bytes, `incomplete`."""
        assert self._db is not None
        rows = self._db.execute("SELECT id FROM attempts WHERE status = 'running'").fetchall()
        if not rows:
            return
        self._db.execute("BEGIN")
        for (row,) in rows:
            self._finish_row(row, "incomplete", SERVER_DIED, None, None)
        self._db.execute("COMMIT")
        self.log.info("fanout: the batch store recovered %d unfinished attempts", len(rows))

    def _writer(self) -> None:
        self._open_db()
        if self._db is not None and self.parse_process:
            self._worker = ParseWorker.start(self.log)
        self._opened.set()
        last_flush = time.monotonic()
        running = True
        while running:
            timeout = max(0.0, last_flush + self.flush_interval - time.monotonic())
            items: list[tuple] = []
            try:
                items.append(self._queue.get(timeout=timeout))
                while True:
                    items.append(self._queue.get_nowait())
            except queue.Empty:
                pass
            now = time.monotonic()
            flush = now >= last_flush + self.flush_interval or any(i[0] == "close" for i in items)
            if flush:
                last_flush = now
            syncs = [i[1] for i in items if i[0] == "sync"]
            running = not any(i[0] == "close" for i in items)
            self._write([i for i in items if i[0] not in ("sync", "close", "call")], flush)
            for item in items:
                if item[0] == "call":
                    try:
                        item[2].set_result(item[1](self._db))
                    except Exception as e:  # noqa: BLE001 - handed to the caller
                        item[2].set_exception(e)
            for done in syncs:
                done.set_result(None)
        if self._worker is not None:
            self._worker.close()
        if self._db is not None:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self._db.close()
            self._db = None

    def _write(self, items: list[tuple], flush: bool) -> None:
        db = self._db
        if db is None:
            return
        if not items and not (flush and any(r.pending for r in self._live.values())):
            return
        started = [i[1] for i in items if i[0] == "start"]
        imported: list[tuple[Future[bool], Union[bool, StoreError]]] = []
        try:
            db.execute("BEGIN IMMEDIATE")
            retain = False
            for item in items:
                kind = item[0]
                if kind == "batch":
                    self._w_batch(*item[1:])
                elif kind == "start":
                    self._w_start(*item[1:])
                elif kind == "end":
                    retain = True
                    self._w_end(*item[1:])
                elif kind == "import":
                    retain = True
                    imported.append((item[2], self._w_import(item[1])))
            if flush:
                self._flush_live()
            if retain:
                self._retain()
            db.execute("COMMIT")
        except Exception as e:  # noqa: BLE001 - disk full, I/O error: streaming goes on
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            for recording in started:  # their rows were rolled back: not recorded
                if recording.row is not None:
                    self._live.pop(recording.row, None)
                    recording.row = None
            self._fail("cannot be written", e)
            for item in items:
                if item[0] == "import":
                    item[2].set_exception(StoreError(503, f"the batch store cannot be written: {e}"))
            return
        for done, written in imported:
            if isinstance(written, StoreError):
                done.set_exception(written)
            else:
                done.set_result(written)

    def _w_import(self, batch: dict[str, Any]) -> Union[bool, StoreError]:
        """Write a whole batch (checked by `check_import`): True; False if its id is taken; a
        StoreError if SQLite refused it (in a savepoint: nothing else of the transaction is
        lost, and the store is not marked failing for one bad batch)."""
        db = self._db
        assert db is not None
        if db.execute("SELECT 1 FROM batches WHERE id = ?", (batch["id"],)).fetchone():
            return False
        db.execute("SAVEPOINT import_batch")
        try:
            db.execute(
                "INSERT INTO batches (id, created_at, updated_at, title, prompt, options)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (batch["id"], batch["created_at"], batch["updated_at"], batch["title"],
                 batch["prompt"], json.dumps(batch["options"])))
            size = 0
            for response in batch["responses"]:
                for a in response["attempts"]:
                    request = json.dumps(a["request"])
                    size += (len(request) + len(a["text"].encode()) + len(a["reasoning"].encode())
                             + 256)
                    db.execute(
                        "INSERT INTO attempts (batch_id, response_id, attempt, upstream, model,"
                        " request, status, error, finish_reason, text, reasoning, usage, metrics,"
                        " started_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (batch["id"], response["id"], a["attempt"], a["upstream"], a["model"],
                         request, a["status"], json.dumps(a["error"]) if a["error"] else None,
                         a["finish_reason"], a["text"], a["reasoning"],
                         json.dumps(a["usage"]) if a["usage"] else None,
                         json.dumps(a["metrics"]) if a["metrics"] else None,
                         a["started_at"], a["ended_at"]))
            db.execute("UPDATE batches SET size = ? WHERE id = ?", (size, batch["id"]))
            from . import followups  # a follow-up's thread (followups.py)
            followups.record_safely(db, batch["id"], batch["options"], self.log)
        except (sqlite3.Error, ValueError, UnicodeError) as e:
            db.execute("ROLLBACK TO import_batch")
            db.execute("RELEASE import_batch")
            if isinstance(e, sqlite3.OperationalError):
                raise  # disk full, I/O: the transaction fails like any other write
            return StoreError(400, f"the batch could not be stored: {e}")
        db.execute("RELEASE import_batch")
        return True

    def _w_batch(self, batch_id: str, at: float, prompt: str, options: Any) -> None:
        assert self._db is not None
        self._db.execute(
            "INSERT INTO batches (id, created_at, updated_at, title, prompt, options)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at",
            (_clean(batch_id), at, at, _clean(default_title(prompt)), _clean(prompt),
             json.dumps(options)),
        )
        from . import followups  # a follow-up's thread (followups.py)
        followups.record_safely(self._db, _clean(batch_id), options, self.log)

    def _w_start(self, recording: Recording, upstream: str, request: Any) -> None:
        assert self._db is not None
        model = request.get("model") if isinstance(request, dict) else None
        text = json.dumps(request)
        cursor = self._db.execute(
            "INSERT INTO attempts (batch_id, response_id, attempt, upstream, model, request,"
            " status, started_at) VALUES (?, ?, ?, ?, ?, ?, 'running', ?)",
            (_clean(recording.batch_id), _clean(recording.response_id), recording.attempt,
             _clean(upstream),
             _clean(model) if isinstance(model, str) else "", text, recording.started_at),
        )
        recording.row = cursor.lastrowid
        self._live[recording.row] = recording  # type: ignore[index]

    def _read(self, reads: list[tuple[Recording, bool]]) -> list[tuple]:
        """Read the bytes that arrived since the last flush of each (recording, final): the
        chunk rows of the text they added. In the reader process, when there is one (its
        answers are added to each recording's `reader`); else, or once it failed, here."""
        batch = [(r, r.take(), final) for r, final in reads
                 if r.row is not None and (r.pending or final)]
        if not batch:
            return []
        answers = None
        if self._worker is not None:
            answers = self._worker.read([(r.key, data, final) for r, data, final in batch])
            if answers is None:
                self.log.error("fanout: the batch store's reader process failed (%s); its text"
                               " is read in the server from now on (at most a line of each"
                               " running response is lost)", self._worker.error)
                self._worker = None
        rows = []
        for i, (recording, data, final) in enumerate(batch):
            reader = recording.reader
            if answers is None:
                recording.digest.give_up()  # digested in the reader process only
                text, reasoning = reader.feed(data, final)
            else:
                _, text, reasoning, summary, digested = answers[i]
                recording.digest.answered(*digested, final=final)
                reader.bytes += len(data)
                if text:
                    reader.text.append(text)
                if reasoning:
                    reader.reasoning.append(reasoning)
                if summary is not None:
                    (reader.usage, reader.finish_reason, reader.error, reader.done,
                     reader.model, _) = summary
            if text or reasoning:
                recording.seq += 1
                rows.append((recording.row, recording.seq - 1, _clean(text), _clean(reasoning)))
        return rows

    def _flush_live(self) -> None:
        """One INSERT for the chunks of every running attempt: each statement the writer runs
        releases and retakes the GIL, which the event loop then has to hand back."""
        assert self._db is not None
        rows = self._read([(r, False) for r in list(self._live.values())])
        for at in range(0, len(rows), CHUNK_ROWS_PER_INSERT):
            part = rows[at:at + CHUNK_ROWS_PER_INSERT]
            self._db.execute(
                "INSERT INTO chunks (attempt_id, seq, text, reasoning) VALUES "
                + ",".join(["(?, ?, ?, ?)"] * len(part)),
                [value for row in part for value in row])

    def _w_end(self, recording: Recording, kind: str, error: Optional[dict], at: float) -> None:
        if recording.row is None:
            return  # its start was not written (the store failed meanwhile)
        self._read([(recording, True)])  # its text is in the reader; chunks are dropped next
        self._live.pop(recording.row, None)
        self._finish_row(recording.row, kind, error, at, recording.first_byte_at,
                         recording.reader)

    def _finish_row(self, row: int, kind: str, error: Optional[dict], at: Optional[float],
                    first_byte_at: Optional[float], parsed: Optional[SSEReader] = None) -> None:
        """Store the attempt's text and outcome (read as its bytes came, or, for an attempt
        a dead server left, from its chunks), drop its chunks."""
        db = self._db
        assert db is not None
        if parsed is None:
            parsed = SSEReader()
            for text, reasoning in db.execute(
                    "SELECT text, reasoning FROM chunks WHERE attempt_id = ? ORDER BY seq", (row,)):
                parsed.text.append(text)
                parsed.reasoning.append(reasoning)
        text, reasoning = _clean("".join(parsed.text)), _clean("".join(parsed.reasoning))
        if kind == "end":
            status = "error" if parsed.error else "complete" if parsed.done else "incomplete"
            error = parsed.error
        elif kind in ("stopped", "error", "incomplete"):
            status = kind
        else:
            status = "incomplete"
        started_at, batch_id, request_size = db.execute(
            "SELECT started_at, batch_id, length(request) FROM attempts WHERE id = ?", (row,)
        ).fetchone()
        metrics: dict[str, Any] = {"bytes": parsed.bytes}
        if at is not None:
            metrics["elapsed"] = round(at - started_at, 4)
        if first_byte_at is not None:
            metrics["ttft"] = round(first_byte_at - started_at, 4)
        tokens = (parsed.usage or {}).get("completion_tokens")
        if isinstance(tokens, (int, float)) and at is not None and first_byte_at is not None:
            span = at - first_byte_at
            if span > 0:
                metrics["tokens_per_second"] = round(tokens / span, 2)
        db.execute(
            "UPDATE attempts SET status = ?, error = ?, finish_reason = ?, text = ?, reasoning = ?,"
            " usage = ?, metrics = ?, ended_at = ?,"
            " model = CASE model WHEN '' THEN ? ELSE model END WHERE id = ?",
            (status, json.dumps(error) if error else None,
             parsed.finish_reason and _clean(parsed.finish_reason), text,
             reasoning, json.dumps(parsed.usage) if parsed.usage else None,
             json.dumps(metrics), at, _clean(parsed.model or ""), row),
        )
        db.execute("DELETE FROM chunks WHERE attempt_id = ?", (row,))
        size = request_size + len(text.encode()) + len(reasoning.encode()) + 256
        db.execute("UPDATE batches SET size = size + ?, updated_at = max(updated_at, ?)"
                   " WHERE id = ?", (size, at or started_at, batch_id))

    def _retain(self) -> None:
        """Delete the oldest batches beyond `max_batches` or `max_bytes` (never a live one)."""
        db = self._db
        assert db is not None
        live = {r.batch_id for r in self._live.values()}
        doomed: list[str] = []
        if self.max_batches > 0:
            count = db.execute("SELECT count(*) FROM batches").fetchone()[0]
            if count > self.max_batches:
                doomed += [b for (b,) in db.execute(
                    "SELECT id FROM batches ORDER BY created_at LIMIT ?",
                    (count - self.max_batches,)) if b not in live]
        if self.max_bytes > 0:
            total = db.execute("SELECT coalesce(sum(size), 0) FROM batches").fetchone()[0]
            if total > self.max_bytes:
                for batch_id, size in db.execute(
                        "SELECT id, size FROM batches ORDER BY created_at").fetchall():
                    if total <= self.max_bytes:
                        break
                    if batch_id in live:
                        continue
                    if batch_id not in doomed:
                        doomed.append(batch_id)
                        total -= size
        for batch_id in doomed:
            db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))

    # -- reads (one executor thread, its own connection) ----------------------------------

    def _close_reader(self) -> None:
        if self._read_db is not None:
            self._read_db.close()
            self._read_db = None

    def _rdb(self) -> sqlite3.Connection:
        if not self.ok and self._db is None:
            raise StoreError(503, f"the batch store is unavailable: {self.error}")
        if self._read_db is None:
            self._read_db = sqlite3.connect(self.path, isolation_level=None)
            self._read_db.execute("PRAGMA busy_timeout = 5000")
            self._read_db.execute("PRAGMA foreign_keys = ON")
        return self._read_db

    async def _run(self, fn: Any, *args: Any) -> Any:
        if self._closed:
            raise StoreError(503, "the batch store is closed")
        await asyncio.get_running_loop().run_in_executor(None, self._opened.wait, 30)
        await self.sync()
        return await asyncio.get_running_loop().run_in_executor(self._reader, fn, *args)

    async def list(self, query: str = "", limit: int = 100) -> list[dict[str, Any]]:
        return await self._run(self._list, query, limit)

    async def get(self, batch_id: str) -> dict[str, Any]:
        return await self._run(self._get, batch_id)

    async def rename(self, batch_id: str, title: str) -> dict[str, Any]:
        return await self._run(self._rename, batch_id, title)

    async def delete(self, batch_id: str) -> None:
        await self._run(self._delete, batch_id)

    async def call_in_reader(self, fn: Any, *args: Any) -> Any:
        """`fn(connection, *args)` on the reader's connection, after what is queued is written
        (small, rare writes too, like a rename: votes.py)."""
        return await self._run(lambda: fn(self._rdb(), *args))

    async def pick(self, batch_id: str, response_id: Optional[str],
                   attempt: Optional[int]) -> dict[str, Any]:
        """Mark the winner of a batch: one response and attempt (its latest when `attempt` is
        None), or none (`response_id` None). `{"batchId", "responseId", "attempt"}`."""
        return await self._run(self._pick, batch_id, response_id, attempt)

    async def rate(self, batch_id: str, response_id: str, attempt: Optional[int],
                   rating: Optional[int]) -> dict[str, Any]:
        """Rate one attempt (its response's latest when `attempt` is None) 1..5, or clear it
        (`rating` None). `{"batchId", "responseId", "attempt", "rating"}`."""
        return await self._run(self._rate, batch_id, response_id, attempt, rating)

    async def import_batch(self, data: Any) -> dict[str, Any]:
        """Add a whole batch in the shape `get` answers (e.g. batches an earlier version kept
        in the browser's workspace); 409 if its id is taken. Written by the writer thread."""
        batch = check_import(data)
        if self._closed:
            raise StoreError(503, "the batch store is closed")
        await asyncio.get_running_loop().run_in_executor(None, self._opened.wait, 30)
        if self._db is None:
            raise StoreError(503, f"the batch store is unavailable: {self.error}")
        done: Future[bool] = Future()
        self._queue.put(("import", batch, done))
        written = await asyncio.wrap_future(done)
        if not written:
            raise StoreError(409, f"batch {batch['id']!r} already exists")
        return {"id": batch["id"]}

    async def record_direct_batch(self, batch_id: str, data: Any) -> dict[str, Any]:
        """Create or update a batch the browser streamed in direct mode (direct_record.py):
        `{"id", "created"}`; 409 for a batch the proxy recorded."""
        from . import direct_record  # not at import: the reader process imports this module

        batch = direct_record.check_batch(data)
        batch_id = direct_record.check_id(batch_id, "the batch id")
        title = _clean(default_title(batch["prompt"]))
        created = await self._direct_write(
            lambda db: direct_record.write_batch(db, batch_id, batch, title))
        return {"id": batch_id, "created": created}

    async def record_direct_attempt(self, batch_id: str, response_id: str, attempt: str,
                                    data: Any) -> dict[str, Any]:
        """Insert or replace one attempt of a direct-mode batch: `{"id", "response", "attempt",
        "created"}`; 404 before its batch, 409 for a batch the proxy recorded."""
        from . import direct_record

        checked = direct_record.check_attempt(data, attempt)
        batch_id = direct_record.check_id(batch_id, "the batch id")
        response_id = direct_record.check_id(response_id, "the response id")
        created = await self._direct_write(
            lambda db: direct_record.write_attempt(db, batch_id, response_id, checked))
        return {"id": batch_id, "response": response_id, "attempt": checked["attempt"],
                "created": created}

    async def _direct_write(self, fn: Any) -> Any:
        if self._closed:
            raise StoreError(503, "the batch store is closed")
        await asyncio.get_running_loop().run_in_executor(None, self._opened.wait, 30)
        if self._db is None:
            raise StoreError(503, f"the batch store is unavailable: {self.error}")

        def write(db: Optional[sqlite3.Connection]) -> Any:
            if db is None:
                raise StoreError(503, f"the batch store is unavailable: {self.error}")
            try:
                return fn(db)
            except sqlite3.Error as e:
                self._fail("cannot be written", e)
                raise StoreError(503, f"the batch store cannot be written: {e}") from None

        return await self.call_in_writer(write)

    def _list(self, query: str, limit: int) -> list[dict[str, Any]]:
        db = self._rdb()
        where, args = _search(query, bool(self.fts))
        # Only each response's latest attempt counts for N and the counts by status.
        rows = db.execute(
            "SELECT b.id, b.title, b.created_at, b.updated_at, b.pick_response, b.pick_attempt"
            " FROM batches b" + where
            + " ORDER BY b.created_at DESC LIMIT ?", (*args, limit)).fetchall()
        if not rows:
            return []
        ids = [r[0] for r in rows]
        marks = ",".join("?" * len(ids))
        latest = db.execute(
            "SELECT a.batch_id, a.model, a.status FROM attempts a JOIN (SELECT batch_id,"
            " response_id, max(attempt) AS attempt FROM attempts WHERE batch_id IN (" + marks
            + ") GROUP BY batch_id, response_id) l ON a.batch_id = l.batch_id AND"
            " a.response_id = l.response_id AND a.attempt = l.attempt", ids).fetchall()
        per: dict[str, dict[str, Any]] = {
            i: {"models": [], "n": 0, "counts": {}, "pick": None, "ratings": []} for i in ids}
        picks = {r[0]: (r[4], r[5]) for r in rows if r[4] is not None}
        for batch_id, response_id, attempt, model, rating in db.execute(
                "SELECT a.batch_id, a.response_id, a.attempt, a.model, a.rating FROM attempts a"
                " WHERE a.batch_id IN (" + marks + ") AND (a.rating IS NOT NULL OR EXISTS"
                " (SELECT 1 FROM batches b WHERE b.id = a.batch_id AND b.pick_response ="
                " a.response_id AND b.pick_attempt = a.attempt)) ORDER BY a.started_at,"
                " a.attempt", ids):
            if rating is not None:
                per[batch_id]["ratings"].append(
                    {"responseId": response_id, "attempt": attempt, "rating": rating})
            if picks.get(batch_id) == (response_id, attempt):
                per[batch_id]["pick"] = {"responseId": response_id, "attempt": attempt,
                                         "model": model}
        for batch_id, model, status in latest:
            entry = per[batch_id]
            entry["n"] += 1
            entry["counts"][status] = entry["counts"].get(status, 0) + 1
            if model not in entry["models"]:
                entry["models"].append(model)
        tags: dict[str, list[str]] = {i: [] for i in ids}
        for batch_id, tag in db.execute("SELECT batch_id, tag FROM batch_tags WHERE batch_id IN ("
                                        + marks + ") ORDER BY rowid", ids):
            tags[batch_id].append(tag)
        from . import followups  # which are follow-ups, and of what (followups.py)
        threads = followups.marks(db, ids)
        return [{"id": i, "title": t, "created_at": c, "updated_at": u, "tags": tags[i], **per[i],
                 **({"followup": threads[i]} if i in threads else {})}
                for (i, t, c, u, _r, _a) in rows]

    def _get(self, batch_id: str) -> dict[str, Any]:
        db = self._rdb()
        row = db.execute("SELECT id, created_at, updated_at, title, prompt, options,"
                         " pick_response, pick_attempt FROM batches WHERE id = ?",
                         (batch_id,)).fetchone()
        if row is None:
            raise StoreError(404, f"no batch {batch_id!r}")
        batch: dict[str, Any] = {
            "id": row[0], "created_at": row[1], "updated_at": row[2], "title": row[3],
            "prompt": row[4], "options": json.loads(row[5]), "responses": [],
            "pick": ({"responseId": row[6], "attempt": row[7]} if row[6] is not None else None),
        }
        responses: dict[str, dict[str, Any]] = {}
        for a in db.execute(
            "SELECT id, response_id, attempt, upstream, model, request, status, error,"
            " finish_reason, text, reasoning, usage, metrics, started_at, ended_at, rating"
            " FROM attempts WHERE batch_id = ? ORDER BY started_at, attempt", (batch_id,)):
            attempt = {
                "attempt": a[2], "upstream": a[3], "model": a[4], "request": json.loads(a[5]),
                "status": a[6], "error": json.loads(a[7]) if a[7] else None,
                "finish_reason": a[8], "text": a[9], "reasoning": a[10],
                "usage": json.loads(a[11]) if a[11] else None,
                "metrics": json.loads(a[12]) if a[12] else None,
                "started_at": a[13], "ended_at": a[14], "rating": a[15],
            }
            if a[6] == "running":  # what has been flushed so far
                pieces = db.execute("SELECT text, reasoning FROM chunks WHERE attempt_id = ?"
                                    " ORDER BY seq", (a[0],)).fetchall()
                attempt.update(text="".join(p[0] for p in pieces),
                               reasoning="".join(p[1] for p in pieces))
            response = responses.get(a[1])
            if response is None:
                response = responses[a[1]] = {"id": a[1], "attempts": []}
                batch["responses"].append(response)
            response["attempts"].append(attempt)
        for response in batch["responses"]:
            response["attempts"].sort(key=lambda x: x["attempt"])
            latest = response["attempts"][-1]
            response.update(status=latest["status"], model=latest["model"],
                            upstream=latest["upstream"], rating=latest["rating"])
        batch["models"] = sorted({r["model"] for r in batch["responses"]})
        batch["n"] = len(batch["responses"])
        batch["tags"] = [t for (t,) in db.execute(
            "SELECT tag FROM batch_tags WHERE batch_id = ? ORDER BY rowid", (batch_id,))]
        if db.execute("SELECT 1 FROM direct_batches WHERE id = ?", (batch_id,)).fetchone():
            batch["transport"] = "direct"  # recorded by the browser (direct_record.py)
        from . import followups  # a follow-up's thread (followups.py)
        batch["followup"] = followups.get(db, batch_id)
        from . import fusions  # which responses are fused, and what they merged
        fusions.annotate(db, batch)
        return batch

    def _rename(self, batch_id: str, title: str) -> dict[str, Any]:
        # Rare and small: the reader's own connection writes it (busy_timeout waits for the
        # writer's transaction).
        db = self._rdb()
        cursor = db.execute("UPDATE batches SET title = ? WHERE id = ?",
                            (_clean(title), _clean(batch_id)))
        if cursor.rowcount == 0:
            raise StoreError(404, f"no batch {batch_id!r}")
        return {"id": batch_id, "title": title}

    def _attempt_of(self, db: sqlite3.Connection, batch_id: str, response_id: str,
                    attempt: Optional[int], field: str) -> int:
        """The attempt number `attempt` names (the latest when None); 404 for no batch, 400
        naming `field` for a response or attempt the batch does not have."""
        if db.execute("SELECT 1 FROM batches WHERE id = ?", (batch_id,)).fetchone() is None:
            raise StoreError(404, f"no batch {batch_id!r}")
        if attempt is None:
            row = db.execute("SELECT max(attempt) FROM attempts WHERE batch_id = ? AND"
                             " response_id = ?", (batch_id, response_id)).fetchone()
            if row[0] is None:
                raise StoreError(400, f"'{field}': batch {batch_id!r} has no response"
                                      f" {response_id!r}")
            return int(row[0])
        if db.execute("SELECT 1 FROM attempts WHERE batch_id = ? AND response_id = ? AND"
                      " attempt = ?", (batch_id, response_id, attempt)).fetchone() is None:
            if db.execute("SELECT 1 FROM attempts WHERE batch_id = ? AND response_id = ?",
                          (batch_id, response_id)).fetchone() is None:
                raise StoreError(400, f"'{field}': batch {batch_id!r} has no response"
                                      f" {response_id!r}")
            raise StoreError(400, f"'attempt': response {response_id!r} of batch {batch_id!r}"
                                  f" has no attempt {attempt}")
        return attempt

    def _pick(self, batch_id: str, response_id: Optional[str],
              attempt: Optional[int]) -> dict[str, Any]:
        # Rare and small, like a rename: the reader's own connection writes it.
        db = self._rdb()
        if response_id is None:
            cursor = db.execute("UPDATE batches SET pick_response = NULL, pick_attempt = NULL"
                                " WHERE id = ?", (batch_id,))
            if cursor.rowcount == 0:
                raise StoreError(404, f"no batch {batch_id!r}")
            return {"batchId": batch_id, "responseId": None, "attempt": None}
        number = self._attempt_of(db, batch_id, response_id, attempt, "responseId")
        db.execute("UPDATE batches SET pick_response = ?, pick_attempt = ? WHERE id = ?",
                   (response_id, number, batch_id))
        return {"batchId": batch_id, "responseId": response_id, "attempt": number}

    def _rate(self, batch_id: str, response_id: str, attempt: Optional[int],
              rating: Optional[int]) -> dict[str, Any]:
        db = self._rdb()
        number = self._attempt_of(db, batch_id, response_id, attempt, "responseId")
        db.execute("UPDATE attempts SET rating = ? WHERE batch_id = ? AND response_id = ? AND"
                   " attempt = ?", (rating, batch_id, response_id, number))
        return {"batchId": batch_id, "responseId": response_id, "attempt": number,
                "rating": rating}

    def _delete(self, batch_id: str) -> None:
        if any(r.batch_id == batch_id for r in list(self._live.values())):
            raise StoreError(409, f"batch {batch_id!r} is still running")
        db = self._rdb()
        cursor = db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
        if cursor.rowcount == 0:
            raise StoreError(404, f"no batch {batch_id!r}")

    # -- export ---------------------------------------------------------------------------

    async def export(self, batch_id: str, fmt: str) -> tuple[str, str, str]:
        """(content type, file name, body) of a batch as json, markdown or notebook."""
        if fmt not in ("json", "markdown", "notebook"):
            raise StoreError(400, f"unknown format {fmt!r}: use json, markdown or notebook")
        batch = await self.get(batch_id)
        return export_batch(batch, fmt)


def _has_fts5(db: sqlite3.Connection) -> bool:
    try:
        db.execute("CREATE VIRTUAL TABLE temp.fanout_fts5_probe USING fts5(x)")
    except sqlite3.OperationalError:
        return False
    db.execute("DROP TABLE temp.fanout_fts5_probe")
    return True


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


#: Batches one of whose running attempts holds a pattern in the chunks flushed so far.
_RUNNING_LIKE = (
    "SELECT a.batch_id FROM attempts a WHERE a.id IN (SELECT attempt_id FROM chunks) AND"
    " ((SELECT group_concat(c.text, '') FROM chunks c WHERE c.attempt_id = a.id) LIKE ? ESCAPE '\\'"
    " OR (SELECT group_concat(c.reasoning, '') FROM chunks c WHERE c.attempt_id = a.id)"
    " LIKE ? ESCAPE '\\')")
_FTS_TERM = (
    "b.id IN (SELECT batch_id FROM batches_fts WHERE batches_fts MATCH ?"
    " UNION SELECT a.batch_id FROM attempts_fts f JOIN attempts a ON a.id = f.rowid"
    " WHERE attempts_fts MATCH ? UNION " + _RUNNING_LIKE + ")")
_LIKE_TERM = (
    "b.id IN (SELECT id FROM batches WHERE title LIKE ? ESCAPE '\\' OR prompt LIKE ? ESCAPE '\\'"
    " UNION SELECT batch_id FROM attempts WHERE text LIKE ? ESCAPE '\\'"
    " OR reasoning LIKE ? ESCAPE '\\' UNION " + _RUNNING_LIKE + ")")


def _search(query: str, fts: bool) -> tuple[str, list[str]]:
    """The WHERE clause (and its arguments) of the batches a search finds. A search is what
    the user typed, never a query language: its words (runs of letters and digits), each of
    which must begin a word of the batch's title, prompt, or any attempt's text or reasoning
    (any case, accents ignored: FTS5's unicode61 tokenizer); without FTS5, or in a running
    attempt's text, each must occur in them (LIKE, ASCII letters in any case). A search
    without any word (`%`, `->`) looks for the whole of it, as it is, the same way as LIKE."""
    query = _clean(query)
    words = _WORDS.findall(query)
    if not query.strip():
        return "", []
    if len(words) > MAX_SEARCH_WORDS:
        raise StoreError(400, f"a search holds at most {MAX_SEARCH_WORDS} words")
    terms, args = [], []
    if not words:
        pattern = _like(query.strip())
        return " WHERE " + _LIKE_TERM, [pattern] * 6
    for word in words:
        pattern = _like(word)
        if fts:
            terms.append(_FTS_TERM)
            args += [f'"{word}" *'] * 2 + [pattern] * 2
        else:
            terms.append(_LIKE_TERM)
            args += [pattern] * 6
    return " WHERE " + " AND ".join(terms), args


def check_import(data: Any) -> dict[str, Any]:
    """A batch to import, checked and normalized (missing optional fields filled in)."""

    def bad(message: str) -> StoreError:
        return StoreError(400, message)

    def text(value: Any, name: str, default: Optional[str] = None, limit: int = 0) -> str:
        if value is None and default is not None:
            return default
        if not isinstance(value, str) or (limit and len(value) > limit):
            raise bad(f"{name!r} must be a string" + (f" of at most {limit} characters" if limit else ""))
        return value

    def number(value: Any, name: str, default: Optional[float]) -> Optional[float]:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad(f"{name!r} must be a number")
        return float(value)

    def obj(value: Any, name: str) -> Optional[dict]:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise bad(f"{name!r} must be an object")
        return value

    if not isinstance(data, dict):
        raise bad("the body must be a JSON object (a batch, as GET fanout/batches/<id> answers)")
    now = time.time()
    batch_id = text(data.get("id"), "id", limit=256)
    if not batch_id:
        raise bad("'id' must not be empty")
    prompt = text(data.get("prompt"), "prompt", "")
    created = number(data.get("created_at"), "created_at", now)
    batch: dict[str, Any] = {
        "id": batch_id, "prompt": prompt, "created_at": created,
        "updated_at": number(data.get("updated_at"), "updated_at", created),
        "title": text(data.get("title"), "title", default_title(prompt), 1000) or default_title(prompt),
        "options": obj(data.get("options"), "options") or {}, "responses": [],
    }
    responses = data.get("responses", [])
    if not isinstance(responses, list):
        raise bad("'responses' must be a list")
    for i, response in enumerate(responses):
        where = f"responses[{i}]"
        if not isinstance(response, dict):
            raise bad(f"{where!r} must be an object")
        attempts = response.get("attempts")
        if not isinstance(attempts, list) or not attempts:
            raise bad(f"'{where}.attempts' must be a non-empty list")
        checked = []
        for j, a in enumerate(attempts):
            at = f"{where}.attempts[{j}]"
            if not isinstance(a, dict):
                raise bad(f"{at!r} must be an object")
            status = text(a.get("status"), f"{at}.status", "incomplete")
            if status not in STATUSES or status == "running":
                status = "incomplete"  # nothing imported is still running
            number_of = a.get("attempt", j + 1)
            if isinstance(number_of, bool) or not isinstance(number_of, int) or number_of < 1:
                raise bad(f"'{at}.attempt' must be a positive integer")
            checked.append({
                "attempt": number_of, "status": status,
                "upstream": text(a.get("upstream"), f"{at}.upstream", ""),
                "model": text(a.get("model"), f"{at}.model", ""),
                "request": obj(a.get("request"), f"{at}.request") or {},
                "error": obj(a.get("error"), f"{at}.error"),
                "finish_reason": text(a.get("finish_reason"), f"{at}.finish_reason", "") or None,
                "text": text(a.get("text"), f"{at}.text", ""),
                "reasoning": text(a.get("reasoning"), f"{at}.reasoning", ""),
                "usage": obj(a.get("usage"), f"{at}.usage"),
                "metrics": obj(a.get("metrics"), f"{at}.metrics"),
                "started_at": number(a.get("started_at"), f"{at}.started_at", created),
                "ended_at": number(a.get("ended_at"), f"{at}.ended_at", None),
            })
        if len({a["attempt"] for a in checked}) != len(checked):
            raise bad(f"'{where}.attempts' numbers repeat")
        batch["responses"].append({"id": text(response.get("id"), f"{where}.id", str(i + 1), 256),
                                   "attempts": checked})
    if len({r["id"] for r in batch["responses"]}) != len(batch["responses"]):
        raise bad("response ids repeat")
    return batch


def export_batch(batch: dict[str, Any], fmt: str) -> tuple[str, str, str]:
    name = "fanout-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in batch["id"])[:64]
    if fmt == "json":
        return "application/json", name + ".json", json.dumps(batch, indent=1)
    cells = [_prompt_markdown(batch)] + [_response_markdown(r, i) for i, r in
                                          enumerate(batch["responses"], 1)]
    if batch.get("followup"):
        # A follow-up: the thread's earlier turns first, after the title (followups.py).
        from . import followups
        title, _, rest = cells[0].partition("\n\n## Prompt")
        cells[0:1] = [title, followups.turns_markdown(batch["followup"]), "## Prompt" + rest]
    if fmt == "markdown":
        return "text/markdown; charset=utf-8", name + ".md", "\n\n".join(cells) + "\n"
    notebook = {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"fanout": {"batch_id": batch["id"], "created_at": batch["created_at"]}},
        "cells": [{"cell_type": "markdown", "id": uuid.uuid4().hex[:12], "metadata": {},
                   "source": cell} for cell in cells],
    }
    return "application/x-ipynb+json", name + ".ipynb", json.dumps(notebook, indent=1)


def _prompt_markdown(batch: dict[str, Any]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(batch["created_at"]))
    return f"# {_one_line(batch['title'])}\n\n{when}\n\n## Prompt\n\n{batch['prompt']}"


def _response_markdown(response: dict[str, Any], index: int) -> str:
    latest = response["attempts"][-1]
    head = (f"## Response {index} ({_one_line(latest['model'] or latest['upstream'])},"
            f" {latest['status']}")
    if len(response["attempts"]) > 1:
        head += f", attempt {latest['attempt']} of {len(response['attempts'])}"
    body = latest["text"]
    if latest["error"]:
        body += f"\n\n**Error:** {_one_line(str(latest['error'].get('message', latest['error'])))}"
    return head + ")\n\n" + body


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:TITLE_LENGTH]


def new_batch_id() -> str:
    return "s-" + uuid.uuid4().hex


__all__ = ["BatchStore", "Recording", "StoreError", "parse_sse", "split_wire_id", "new_batch_id"]
