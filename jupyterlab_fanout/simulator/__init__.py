"""A vLLM simulator: an OpenAI-compatible streaming server that speaks vLLM's wire format.

It is the embedded default upstream of the extension's demo and the upstream of the
tests; a real vLLM replaces it by configuration alone. Besides `/v1/models` and
`/v1/chat/completions` it serves a control API under `/simulator/` (settings, reset,
and a record of every request, including whether its client disconnected).
"""
from .app import make_app, serve
from .settings import FaultRule, SettingsError, SimulatorSettings

__all__ = ["FaultRule", "SettingsError", "SimulatorSettings", "make_app", "serve"]
