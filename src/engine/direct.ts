/**
 * Direct mode: the browser calls an OpenAI-compatible server it can reach itself (CORS), one
 * fetch per response, each with its own AbortController. No Jupyter server in between, so the
 * browser's per-host connection limit applies (six over HTTP/1.1): see {@link directModeWarning}.
 */
import { errorFromHttpBody } from '../core';
import type { ConnectionFactory, IBatchConnection, IConnectionHandlers } from './transport';

/** Where direct mode sends its requests. */
export interface IDirectOptions {
  /** The server's OpenAI-compatible base URL, such as `https://vllm.example.org/v1`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` when set. It lives in the browser: use a key of your own. */
  apiKey?: string;
  /** Injected in tests. */
  fetch?: typeof fetch;
}

/** HTTP/1.1 allows this many connections per host at once in Chromium and Firefox. */
export const HTTP1_CONNECTIONS_PER_HOST = 6;

/**
 * A warning when `n` direct streams cannot all run at once: over plain HTTP (HTTP/1.1) the
 * browser opens at most six connections per host and the rest wait for earlier ones to end.
 */
export function directModeWarning(baseUrl: string, n: number): string | null {
  if (n <= HTTP1_CONNECTIONS_PER_HOST || !/^http:/i.test(baseUrl)) {
    return null;
  }
  return (
    `Direct mode over plain HTTP runs at most ${HTTP1_CONNECTIONS_PER_HOST} responses at once; ` +
    `the other ${n - HTTP1_CONNECTIONS_PER_HOST} wait. Use the Jupyter server proxy, or HTTPS (HTTP/2).`
  );
}

/** The request body direct mode sends: the same shape the proxy sends upstream. */
export function directRequestBody(request: Record<string, unknown>): Record<string, unknown> {
  return {
    ...request,
    n: 1,
    stream: true,
    stream_options: { include_usage: true, continuous_usage_stats: true }
  };
}

class DirectConnection implements IBatchConnection {
  constructor(
    private readonly _options: IDirectOptions,
    private readonly _handlers: IConnectionHandlers
  ) {}

  start(id: string, _upstream: string, request: Record<string, unknown>): void {
    const controller = new AbortController();
    this._controllers.set(id, controller);
    void this._run(id, request, controller).finally(() => this._controllers.delete(id));
  }

  stop(id: string): void {
    this._controllers.get(id)?.abort();
  }

  close(): void {
    for (const controller of this._controllers.values()) {
      controller.abort();
    }
  }

  private async _run(id: string, request: Record<string, unknown>, controller: AbortController): Promise<void> {
    const url = this._options.baseUrl.replace(/\/+$/, '') + '/chat/completions';
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (this._options.apiKey) {
      headers.Authorization = `Bearer ${this._options.apiKey}`;
    }
    const doFetch = this._options.fetch ?? fetch;
    let response: Response;
    try {
      response = await doFetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify(directRequestBody(request)),
        signal: controller.signal
      });
    } catch (error) {
      this._failed(id, controller, `Could not reach ${url}: ${(error as Error).message}`, 'upstream_unreachable');
      return;
    }
    if (!response.ok || !response.body) {
      const body = await response.text().catch(() => '');
      this._handlers.onError(id, errorFromHttpBody(response.status, body));
      return;
    }
    this._handlers.onOpen(id, response.status);
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          break;
        }
        this._handlers.onData(id, value);
      }
      this._handlers.onEnd(id);
    } catch (error) {
      this._failed(id, controller, `The stream from ${url} broke: ${(error as Error).message}`, 'upstream_stream');
    }
  }

  /** An aborted request was stopped on purpose; anything else is this response's error. */
  private _failed(id: string, controller: AbortController, message: string, code: string): void {
    if (controller.signal.aborted) {
      this._handlers.onStopped(id);
    } else {
      this._handlers.onError(id, { message, code });
    }
  }

  private readonly _controllers = new Map<string, AbortController>();
}

/** Connections that go straight from the browser to `options.baseUrl`. */
export function directConnectionFactory(options: IDirectOptions): ConnectionFactory {
  return handlers => new DirectConnection(options, handlers);
}
