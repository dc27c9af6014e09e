"""Tornado's WebSocket protocol, except for a text frame that is not valid UTF-8.

Tornado aborts the whole connection on such a frame (RFC 6455 says to fail it, code 1007),
which would stop every response of the batch for one malformed message. Here the frame reaches
the handler's `on_invalid_text` instead, which answers it with an `error` like any other
malformed message. A browser never sends one (`WebSocket.send` encodes its string); only a
hostile or broken client does. Compressed frames keep Tornado's behaviour (Jupyter does not
enable compression by default).
"""
from __future__ import annotations

from typing import Any, Optional

from tornado.concurrent import Future
from tornado.websocket import WebSocketProtocol13

#: The opcode of a text frame (RFC 6455).
TEXT = 0x1


class LenientTextProtocol(WebSocketProtocol13):
    """`WebSocketProtocol13` whose invalid UTF-8 text frames go to `on_invalid_text(data)`."""

    def _handle_message(self, opcode: int, data: bytes) -> Optional[Future[Any]]:
        if opcode != TEXT or self.client_terminated or self._frame_compressed:
            return super()._handle_message(opcode, data)
        self._message_bytes_in += len(data)
        try:
            decoded = data.decode("utf-8")
        except UnicodeDecodeError:
            return self._run_callback(self.handler.on_invalid_text, data)  # type: ignore[attr-defined]
        return self._run_callback(self.handler.on_message, decoded)


def supported() -> bool:
    """Whether this Tornado still has the internals the subclass relies on."""
    return all(
        hasattr(WebSocketProtocol13, name) for name in ("_handle_message", "_run_callback")
    )
