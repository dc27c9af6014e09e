"""`python -m jupyterlab_fanout.simulator`: run the vLLM simulator as a standalone server."""
from __future__ import annotations

import argparse
import asyncio
import logging
import ssl
import sys
from typing import Any, Dict, List, Optional

from .app import serve
from .settings import (DIALECTS, ERROR_FORMATS, REASONING_FORMATS, SettingsError,
                       SimulatorSettings)


def _parser() -> argparse.ArgumentParser:
    defaults = SimulatorSettings()
    parser = argparse.ArgumentParser(
        prog="python -m jupyterlab_fanout.simulator",
        description="A vLLM simulator (OpenAI-compatible streaming chat completions); "
                    "--dialect makes it answer as SGLang, llama.cpp, Ollama, OpenAI, LiteLLM.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--model", default=defaults.model)
    parser.add_argument("--tokens-per-second", type=float, default=defaults.tokens_per_second)
    parser.add_argument("--ttft-ms", type=float, default=defaults.ttft_ms)
    parser.add_argument("--tokens-per-event", type=int, default=defaults.tokens_per_event)
    parser.add_argument("--reasoning-tokens", type=int, default=defaults.reasoning_tokens)
    parser.add_argument("--answer-tokens", type=int, default=defaults.answer_tokens)
    parser.add_argument("--reasoning-format", choices=REASONING_FORMATS,
                        default=defaults.reasoning_format)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--max-model-len", type=int, default=defaults.max_model_len)
    parser.add_argument("--api-key", default=defaults.api_key)
    parser.add_argument("--error-format", choices=ERROR_FORMATS, default=defaults.error_format)
    parser.add_argument("--dialect", choices=DIALECTS, default=defaults.dialect,
                        help="answer as this server (errors, usage, reasoning field, refusals)")
    # vLLM's names for serving HTTPS.
    parser.add_argument("--ssl-certfile", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--ssl-keyfile", help="the certificate's private key (PEM)")
    return parser


def _settings(args: argparse.Namespace) -> Dict[str, Any]:
    values = vars(args).copy()
    del values["host"], values["port"], values["ssl_certfile"], values["ssl_keyfile"]
    return values


async def _run(settings: SimulatorSettings, host: str, port: int,
               tls: Optional[ssl.SSLContext]) -> None:
    _server, actual_port = serve(settings, host, port, tls)
    scheme = "https" if tls is not None else "http"
    print(f"vLLM simulator listening on {scheme}://{host}:{actual_port}/v1", flush=True)
    await asyncio.Event().wait()


def main(argv: Optional[List[str]] = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = SimulatorSettings.from_dict(_settings(args))
    except SettingsError as error:
        parser.error(str(error))
    tls = None
    if args.ssl_certfile or args.ssl_keyfile:
        if not (args.ssl_certfile and args.ssl_keyfile):
            parser.error("--ssl-certfile and --ssl-keyfile go together")
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            tls.load_cert_chain(args.ssl_certfile, args.ssl_keyfile)
        except (OSError, ssl.SSLError) as error:
            parser.error(f"cannot load the certificate: {error}")
    # Access logs go to stdout so that a parent reading only stderr never fills its pipe.
    logging.basicConfig(stream=sys.stdout, level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        asyncio.run(_run(settings, args.host, args.port, tls))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
