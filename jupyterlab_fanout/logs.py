"""What the proxy's handlers write to the server log: never a token or key from a URL.

Tornado's log of an uncaught exception prints the request's whole URI (`?token=...`
included) and the request's repr; Jupyter scrubs its access log but not that one. The
handlers' `_request_summary` and `log_exception` here redact every query parameter whose
name looks like a credential, the way Jupyter's access log does.
"""
from __future__ import annotations

import logging
from types import TracebackType
from typing import Any, Iterable, Optional, Union
from urllib.parse import unquote_plus

from tornado import web
from tornado.log import app_log

#: What the server's modules log to: a logger, or an adapter that adds context (a batch id).
Log = Union[logging.Logger, logging.LoggerAdapter]

#: A query parameter whose name contains one of these is logged as `[secret]`
#: (Jupyter's own list, plus a few; `extra_log_scrub_param_keys` adds more).
SECRET_PARAMS = ("token", "auth", "key", "code", "state", "xsrf", "password", "secret")


def redact_uri(uri: str, extra: Iterable[str] = ()) -> str:
    """The URI with the value of every credential-like query parameter replaced by [secret]."""
    path, sep, query = uri.partition("?")
    if not sep:
        return uri
    names = SECRET_PARAMS + tuple(extra)
    parts = query.split("&")
    for i, part in enumerate(parts):
        key, eq, _value = part.partition("=")
        lowered = unquote_plus(key).lower()
        if any(name in lowered for name in names):
            parts[i] = f"{key}{eq}[secret]"
    return f"{path}?{'&'.join(parts)}"


class RedactedLogMixin:
    """For a Tornado handler: its exception and request logs carry no credential."""

    request: Any
    settings: dict[str, Any]

    def _request_summary(self) -> str:
        extra = self.settings.get("extra_log_scrub_param_keys", ())
        return f"{self.request.method} {redact_uri(self.request.uri, extra)} ({self.request.remote_ip})"

    def log_exception(
        self,
        typ: Optional[type[BaseException]],
        value: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        """Tornado's, without the request's repr (which holds the raw URI)."""
        if isinstance(value, web.HTTPError):
            super().log_exception(typ, value, tb)  # type: ignore[misc] - uses _request_summary
            return
        app_log.error(
            "Uncaught exception %s", self._request_summary(), exc_info=(typ, value, tb)  # type: ignore[arg-type]
        )
