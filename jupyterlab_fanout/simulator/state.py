"""Mutable state of one simulator: current settings, fault counters and the request record."""
from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from .engine import Engines
from .settings import FaultRule, SimulatorSettings

# Outcomes of a recorded request; "running" until one of the others is reached.
RUNNING = "running"
COMPLETED = "completed"
DISCONNECTED = "disconnected"
ERROR = "error"
DROPPED = "dropped"
REJECTED = "rejected"


@dataclass
class RequestRecord:
    """What the simulator saw and sent for one chat completion request.

    `content` and `reasoning` hold the text actually sent so far (for a non-streamed
    request: generated so far); `disconnected` means
    the client closed the connection before the simulator was done. `status` is the
    HTTP status answered (None while the request waits for its first byte).
    """

    index: int
    id: str
    headers: Dict[str, Optional[str]]
    started_at: float
    model: Optional[str] = None
    stream: bool = False
    max_tokens: Optional[int] = None
    temperature: Optional[float] = None
    seed: Optional[int] = None
    n: Optional[int] = None
    stream_options: Optional[Dict[str, Any]] = None
    #: Every top-level key of the request body, sorted (what options a client sent).
    keys: List[str] = field(default_factory=list)
    messages_count: int = 0
    messages: Any = None
    prompt_tokens: int = 0
    first_token_at: Optional[float] = None
    ended_at: Optional[float] = None
    completion_tokens_sent: int = 0
    content: str = ""
    reasoning: str = ""
    finish_reason: Optional[str] = None
    fault: Optional[str] = None
    outcome: str = RUNNING
    status: Optional[int] = None
    disconnected: bool = False
    disconnected_at: Optional[float] = None

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def describe(self, body: Mapping[str, Any], prompt_tokens: int) -> None:
        """Copy the recorded fields of a (possibly invalid) request body."""
        messages = body.get("messages")
        self.model = body.get("model")
        self.stream = body.get("stream") is True
        self.max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        self.temperature = body.get("temperature")
        self.seed = body.get("seed")
        self.n = body.get("n")
        self.stream_options = body.get("stream_options")
        self.keys = sorted(body)
        self.messages_count = len(messages) if isinstance(messages, list) else 0
        self.messages = messages
        self.prompt_tokens = prompt_tokens

    def add_sent(self, reasoning: str, content: str, tokens: int) -> None:
        """Account for one event that reached the client."""
        if self.first_token_at is None:
            self.first_token_at = time.time()
        self.reasoning += reasoning
        self.content += content
        self.completion_tokens_sent += tokens

    def end(self, outcome: str) -> None:
        """Close the record with its final outcome (once; later calls are ignored)."""
        if self.outcome == RUNNING:
            self.outcome = outcome
            self.ended_at = time.time()

    def mark_disconnected(self) -> None:
        """The client went away while the request was still running."""
        if self.outcome == RUNNING:
            self.disconnected = True
            self.disconnected_at = time.time()
            self.end(DISCONNECTED)


@dataclass
class SimulatorState:
    """Settings in force, their start-up values, fault counters and the record."""

    startup: SimulatorSettings
    settings: SimulatorSettings = field(init=False)
    records: List[RequestRecord] = field(init=False)
    _fault_left: List[Optional[int]] = field(init=False)
    #: The streams' shared clocks (engine.py), one per pace; a reset leaves them running.
    engines: Engines = field(init=False, default_factory=Engines, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Restore the start-up settings, clear the record and the fault counters."""
        self.settings = self.startup
        self.records = []
        self._reset_faults()

    def configure(self, changes: Mapping[str, Any]) -> SimulatorSettings:
        """Merge JSON `changes` into the settings (SettingsError if invalid)."""
        self.settings = self.settings.merged(changes)
        if "faults" in changes:
            self._reset_faults()
        return self.settings

    def open_record(self, headers: Dict[str, Optional[str]]) -> RequestRecord:
        """Record a new request; its arrival index is its position in the record."""
        record = RequestRecord(
            index=len(self.records), id=f"chatcmpl-{uuid.uuid4().hex}",
            headers=headers, started_at=time.time(),
        )
        self.records.append(record)
        return record

    def take_fault(self) -> Optional[FaultRule]:
        """The first fault rule with uses left (that use is consumed), else None."""
        for i, rule in enumerate(self.settings.faults):
            left = self._fault_left[i]
            if left is None or left > 0:
                self._fault_left[i] = None if left is None else left - 1
                return rule
        return None

    def _reset_faults(self) -> None:
        self._fault_left = [rule.times for rule in self.settings.faults]
