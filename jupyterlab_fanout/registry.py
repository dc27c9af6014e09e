"""The batches the server holds, by id: running ones, attached or detached, and ended ones
during their grace period (batch.py). `FanoutState.batches` is the one registry.

The memory ended batches keep for a later `attach` (their compressed replays, replay.py) is
counted across the registry: beyond `c.Fanout.ended_replay_bytes`, the batches idle longest
leave before their grace period is over."""
from __future__ import annotations

import asyncio
from typing import Any, Iterator, Optional

from .batch import Batch, UserStreams
from .logs import Log
from .config import Fanout
from .store import BatchStore
from .validation import Lookup



class BatchRegistry:
    """Batches by id. A batch leaves on its own (`Batch.drop`) once it is ended and has had
    no subscriber for its grace period, or when the server shuts down (`close`)."""

    def __init__(self, *, fanout: Fanout, lookup: Lookup, user_streams: UserStreams, log: Log,
                 store: BatchStore | None = None):
        self.fanout = fanout
        self.lookup = lookup
        self.user_streams = user_streams
        self.log = log
        self.store = store
        self._batches: dict[str, Batch] = {}
        self._tasks: set[asyncio.Future[Any]] = set()

    def __len__(self) -> int:
        return len(self._batches)

    def __contains__(self, batch_id: object) -> bool:
        return batch_id in self._batches

    def __iter__(self) -> Iterator[Batch]:
        return iter(list(self._batches.values()))

    def get(self, batch_id: str) -> Batch | None:
        return self._batches.get(batch_id)

    def create(self, batch_id: str, user: str,
               described: tuple[str, dict[str, Any]] | None) -> Batch:
        """A new batch under that id (the caller checked that none is held)."""
        batch = Batch(
            batch_id, fanout=self.fanout, lookup=self.lookup, user=user,
            user_streams=self.user_streams, log=self.log, store=self.store,
            described=described, on_drop=self._forget, on_idle=self._trim,
        )
        self._batches[batch_id] = batch
        return batch

    def kept_bytes(self) -> tuple[int, int]:
        """About how much memory the batches keep for replays: (running or subscribed, idle)."""
        busy = idle = 0
        for batch in self._batches.values():
            if batch.idle_since is None:
                busy += batch.kept_bytes()
            else:
                idle += batch.kept_bytes()
        return busy, idle

    def _trim(self, _batch: Batch) -> None:
        """A batch became idle: while the idle batches keep more than `ended_replay_bytes`,
        drop the one idle longest (the store still has it)."""
        idle = sorted((b for b in self._batches.values() if b.idle_since is not None),
                      key=lambda b: b.idle_since or 0.0)
        sizes = {b.id: b.kept_bytes() for b in idle}
        total = sum(sizes.values())
        limit = self.fanout.ended_replay_bytes
        for batch in idle:
            if total <= limit:
                break
            total -= sizes[batch.id]
            self.log.info("fanout: batch %r leaves memory before its grace period: ended"
                          " batches keep more than %d bytes (c.Fanout.ended_replay_bytes)",
                          batch.id, limit)
            batch.drop()

    def _forget(self, batch: Batch) -> None:
        if self._batches.get(batch.id) is batch:
            del self._batches[batch.id]

    def observe(self, future: Optional[asyncio.Future[Any]]) -> None:
        """Keep a future (streams being stopped) referenced and log its failure."""
        if future is None:
            return
        self._tasks.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[Any]) -> None:
        self._tasks.discard(future)
        if not future.cancelled() and future.exception() is not None:
            self.log.error("fanout: closing a batch failed", exc_info=future.exception())

    async def close(self) -> None:
        """Server shutdown: close every upstream stream of every batch, attached or not."""
        batches = list(self._batches.values())
        await asyncio.gather(*(b.shutdown() for b in batches), return_exceptions=True)
        pending = list(self._tasks)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
