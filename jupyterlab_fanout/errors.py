"""The proxy's errors: one class for every error a response or a message gets.

A `FanoutError` becomes the `error` message the browser receives (docs/protocol.md):
`code` one of the protocol's error codes, `status` an HTTP status, `message` safe to show.
"""
from __future__ import annotations


class FanoutError(Exception):
    """A response or message the proxy refuses or an upstream failed.

    Raised before any upstream request (`bad_request`, `unknown_upstream`, `limit`) and by
    the upstream client (`upstream_http`, `upstream_unreachable`, `upstream_timeout`,
    `upstream_not_stream`, `upstream_protocol`).
    `status` is an HTTP status (the upstream's own, or 502/504 when there was no HTTP
    answer); `message` is safe to show in the browser (no addresses, no keys, no HTML).
    """

    def __init__(self, code: str, status: int, message: str,
                 upstream_error: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        #: The upstream's own `type` and `code` (only those it gave), for `upstream_http`.
        self.upstream_error = upstream_error

    def to_message(self, response_id: str | None) -> dict[str, object]:
        """The protocol's `error` message for this error."""
        message: dict[str, object] = {"type": "error", "id": response_id, "status": self.status,
                                      "message": self.message, "code": self.code}
        if self.upstream_error:
            message["upstream_error"] = self.upstream_error
        return message


class SocketClosed(Exception):
    """The browser's socket is gone; nothing more can be sent."""


#: What the browser is told when a message or a response fails for a bug in the proxy (logged
#: in full where it happens).
INTERNAL_ERROR = FanoutError("internal", 500, "internal error in the proxy")
