/**
 * The browser side of the batch protocol (docs/protocol.md): one WebSocket per batch to the
 * Jupyter server, carrying every response of the batch. No DOM beyond the WebSocket API.
 */
import type { ResponseError } from '../core';
import type { IBatchDescription } from './protocol';

/** What the connection reports, per response id. */
export interface IConnectionHandlers {
  /** The upstream answered with headers; body bytes follow. */
  onOpen(id: string, status: number): void;
  /** Raw upstream body bytes, cut anywhere. */
  onData(id: string, bytes: Uint8Array): void;
  /** The upstream closed the stream. */
  onEnd(id: string): void;
  /** The stop was carried out: the upstream connection is closed. */
  onStopped(id: string): void;
  /** This response failed (no request could be made, or the upstream said non-2xx). */
  onError(id: string, error: ResponseError): void;
  /** The connection itself failed or closed; every response still running on it is lost. */
  onClose(error: ResponseError | null): void;
  /**
   * The answer to {@link IBatchConnection.attach}: the batch's responses, in start order. Each
   * one's bytes so far follow (`onOpen`, one `onData`, its end if it has ended), then live ones.
   */
  onAttached?(batch: string, responses: IAttachedWire[]): void;
  /** Another socket (another tab) started response `id` of this batch; its `onOpen` follows. */
  onStarted?(id: string, upstream: string, request: Record<string, unknown>): void;
  /** The attach was refused (`unknown_batch`: the server does not hold the batch); the socket stays usable. */
  onAttachFailed?(error: ResponseError): void;
}

/** One response of an `attached` message (docs/protocol.md). */
export interface IAttachedWire {
  id: string;
  upstream: string;
  request: Record<string, unknown>;
  /** Server time since the response started, in milliseconds. */
  elapsed_ms: number;
  /** Server time since its first byte, or null when none came yet. */
  first_byte_ms: number | null;
  state: 'running' | 'ended';
}

/** One open batch connection. */
export interface IBatchConnection {
  /**
   * Name the batch this connection carries (its id, prompt and options), before any start: the
   * server's store keeps the batch under this id. Only the proxy's connection has it.
   */
  describe?(batchId: string, description: IBatchDescription): void;
  /** Ask for one response. `request` holds the chat completion parameters. */
  start(id: string, upstream: string, request: Record<string, unknown>): void;
  /** Stop one response: the proxy closes its upstream connection. */
  stop(id: string): void;
  /**
   * Subscribe to a batch the server holds, with a replay (before any `describe` or `start`);
   * answered by `onAttached` or `onAttachFailed`. Only the proxy's connection has it.
   */
  attach?(batchId: string): void;
  /**
   * Close the connection. The server keeps the batch running (it belongs to the server); only
   * `stop` stops a response.
   */
  close(): void;
}

/** Opens batch connections; injected into the model so that tests need no server. */
export type ConnectionFactory = (handlers: IConnectionHandlers) => IBatchConnection;

const textDecoder = new TextDecoder();

/**
 * Split a binary frame into its records, in order. Each record is a uint16 big-endian id
 * length, the id in UTF-8, a uint32 big-endian byte count, then that many body bytes.
 */
export function decodeDataFrame(frame: ArrayBuffer): Array<{ id: string; bytes: Uint8Array }> {
  const view = new DataView(frame);
  const records: Array<{ id: string; bytes: Uint8Array }> = [];
  let at = 0;
  while (at < frame.byteLength) {
    if (at + 2 > frame.byteLength) {
      throw new Error(`binary frame of ${frame.byteLength} bytes ends inside a record header at ${at}`);
    }
    const idLength = view.getUint16(at);
    const idEnd = at + 2 + idLength;
    if (idEnd + 4 > frame.byteLength) {
      throw new Error(`binary frame of ${frame.byteLength} bytes ends inside a record header at ${at}`);
    }
    const byteCount = view.getUint32(idEnd);
    const end = idEnd + 4 + byteCount;
    if (end > frame.byteLength) {
      throw new Error(`a record of ${byteCount} bytes at ${at} exceeds the frame (${frame.byteLength} bytes)`);
    }
    const id = textDecoder.decode(new Uint8Array(frame, at + 2, idLength));
    records.push({ id, bytes: new Uint8Array(frame, idEnd + 4, byteCount) });
    at = end;
  }
  return records;
}

/** A batch connection over a WebSocket at `url` (already carrying any auth query). */
export class WebSocketBatchConnection implements IBatchConnection {
  constructor(
    url: string,
    private readonly _handlers: IConnectionHandlers,
    makeSocket: (url: string) => WebSocket = u => new WebSocket(u)
  ) {
    this._socket = makeSocket(url);
    this._socket.binaryType = 'arraybuffer';
    this._socket.onopen = () => {
      for (const message of this._queue) {
        this._socket.send(message);
      }
      this._queue = [];
    };
    this._socket.onmessage = event => this._onMessage(event.data);
    this._socket.onerror = () => {
      this._failure = { message: 'The connection to the Jupyter server failed.', code: 'connection' };
    };
    this._socket.onclose = event => {
      if (this._closedByUs) {
        this._handlers.onClose(null);
        return;
      }
      const reason = event.reason ? `: ${event.reason}` : '';
      this._handlers.onClose(
        this._failure ?? {
          message: `The connection to the Jupyter server closed (code ${event.code}${reason}).`,
          code: 'connection'
        }
      );
    };
  }

  describe(batchId: string, description: IBatchDescription): void {
    this._send({ type: 'batch', id: batchId, prompt: description.prompt, options: description.options });
  }

  attach(batchId: string): void {
    this._attaching = true;
    this._send({ type: 'attach', batch: batchId });
  }

  start(id: string, upstream: string, request: Record<string, unknown>): void {
    this._send({ type: 'start', id, upstream, request });
  }

  stop(id: string): void {
    this._send({ type: 'stop', id });
  }

  close(): void {
    this._closedByUs = true;
    this._socket.close(1000, 'batch closed');
  }

  private _send(message: Record<string, unknown>): void {
    const text = JSON.stringify(message);
    if (this._socket.readyState === WebSocket.CONNECTING) {
      this._queue.push(text);
    } else if (this._socket.readyState === WebSocket.OPEN) {
      this._socket.send(text);
    }
  }

  private _onMessage(data: unknown): void {
    if (data instanceof ArrayBuffer) {
      for (const { id, bytes } of decodeDataFrame(data)) {
        this._handlers.onData(id, bytes);
      }
      return;
    }
    const message = JSON.parse(String(data)) as {
      type: string;
      id: string | null;
      status?: number;
      message?: string;
      code?: string;
      batch?: string;
      responses?: IAttachedWire[];
      upstream?: string;
      request?: Record<string, unknown>;
    };
    switch (message.type) {
      case 'open':
        this._handlers.onOpen(message.id!, message.status ?? 200);
        break;
      case 'end':
        this._handlers.onEnd(message.id!);
        break;
      case 'stopped':
        this._handlers.onStopped(message.id!);
        break;
      case 'attached':
        this._attaching = false;
        this._handlers.onAttached?.(message.batch ?? '', Array.isArray(message.responses) ? message.responses : []);
        break;
      case 'started':
        this._handlers.onStarted?.(message.id!, message.upstream ?? '', message.request ?? {});
        break;
      case 'error': {
        const error: ResponseError = {
          message: message.message ?? 'Unknown error from the Jupyter server.',
          status: message.status,
          code: message.code
        };
        if ((message.id === null || message.id === undefined) && this._attaching) {
          // The attach was refused (`unknown_batch`, or a server without attach); the socket stays.
          this._attaching = false;
          this._handlers.onAttachFailed?.(error);
        } else if (message.id === null || message.id === undefined) {
          // Not tied to a response: kept as the reason if the server then closes the socket.
          console.error(`jupyterlab-fanout: the server refused a message: ${error.message}`);
          this._failure = error;
        } else {
          this._handlers.onError(message.id, error);
        }
        break;
      }
      default:
        console.warn(`jupyterlab-fanout: ignoring unknown message type ${message.type}`);
    }
  }

  private _socket: WebSocket;
  private _queue: string[] = [];
  private _closedByUs = false;
  /** An attach was sent and not answered yet. */
  private _attaching = false;
  private _failure: ResponseError | null = null;
}

/**
 * The URL of the Jupyter server's `fanout/batch` WebSocket, authenticated the way JupyterLab's
 * own sockets are (the session cookie, plus the token when the settings ask for it).
 */
export function batchSocketUrl(settings: { wsUrl: string; token: string; appendToken: boolean }): string {
  let url = settings.wsUrl.replace(/\/?$/, '/') + 'fanout/batch';
  if (settings.appendToken && settings.token) {
    url += `?token=${encodeURIComponent(settings.token)}`;
  }
  return url;
}
