/**
 * The browser side of the batch protocol (docs/protocol.md): one WebSocket per batch to the
 * Jupyter server, carrying every response of the batch. No DOM beyond the WebSocket API.
 */
import type { IStreamDigest, ResponseError } from '../core';
import { type Inflate, inflateDeflate, inflateReplay, REPLAY_ENCODING } from './inflate';
import type { IBatchDescription } from './protocol';

/** What the connection reports, per response id. */
export interface IConnectionHandlers {
  /** The upstream answered with headers; body bytes follow. */
  onOpen(id: string, status: number): void;
  /**
   * Raw upstream body bytes, cut anywhere. For the replay of an attach (already inflated),
   * `replay` says how many bytes it took on the wire and how long it waited to be inflated.
   */
  onData(id: string, bytes: Uint8Array, replay?: IReplayStats): void;
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

/** What the replay of one response cost before it reached `onData`. */
export interface IReplayStats {
  /** Bytes of its compressed record. */
  wireBytes: number;
  /** Milliseconds from its record's arrival to its inflated bytes (waiting for others included). */
  inflateMs: number;
  /** When its record arrived (`performance.now()` of this thread). */
  arrivedAt: number;
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
  /**
   * The replay record that follows its `open`: a zlib stream of `bytes` bytes (every byte
   * forwarded so far, or with a `digest`, the bytes after it); null: none.
   */
  replay?: { encoding: string; bytes: number } | null;
  /** The stream's first events, digested by the server (docs/protocol.md); absent: none. */
  digest?: IStreamDigest;
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

/** The clock the replay's inflate time is measured with. */
const clock = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/**
 * A batch connection over a WebSocket at `url` (already carrying any auth query).
 *
 * The replay record of each response listed in `attached` is compressed: it is inflated
 * (asynchronously, `inflate`) before it reaches `onData`, and every later message of that
 * response waits for it, so each response still sees its messages in order; the other
 * responses do not wait. A replay that cannot be inflated fails its response alone
 * (`onError`, code `replay_corrupt`).
 */
export class WebSocketBatchConnection implements IBatchConnection {
  constructor(
    url: string,
    private readonly _handlers: IConnectionHandlers,
    makeSocket: (url: string) => WebSocket = u => new WebSocket(u),
    private readonly _inflate: Inflate = inflateDeflate
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
      if (this._inflating.size > 0) {
        // What arrived before the close is delivered first: the replays being inflated, and
        // the messages of their responses that wait for them.
        void Promise.allSettled([...this._inflating]).then(() => this._safely(() => this._closed(event)));
        return;
      }
      this._closed(event);
    };
  }

  private _closed(event: CloseEvent): void {
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

  /** Run `deliver` now, or after the replay of response `id` when it is being inflated. */
  private _deliver(id: string, deliver: () => void): void {
    const held = this._held.get(id);
    if (held) {
      held.push(deliver);
    } else {
      deliver();
    }
  }

  /** Inflate the replay record of `id`, then deliver it and what waited for it. */
  private _replay(id: string, compressed: Uint8Array, replay: { encoding: string; bytes: number }): void {
    const held: Array<() => void> = [];
    this._held.set(id, held);
    const began = clock();
    const inflated =
      replay.encoding === REPLAY_ENCODING
        ? inflateReplay(this._inflate, compressed, replay.bytes)
        : Promise.reject(
            new Error(`its encoding '${String(replay.encoding).slice(0, 40)}' is not one this page reads`)
          );
    const done = inflated.then(
      inflated => {
        this._held.delete(id);
        this._safely(() =>
          this._handlers.onData(id, inflated, {
            wireBytes: compressed.length,
            inflateMs: clock() - began,
            arrivedAt: began
          })
        );
        for (const deliver of held) {
          this._safely(deliver);
        }
      },
      (error: Error) => {
        // This response alone fails; what waited for its replay is dropped with it.
        this._held.delete(id);
        this._safely(() =>
          this._handlers.onError(id, {
            message: `The replay of response ${id} from the server could not be read (${error.message}).`,
            code: 'replay_corrupt'
          })
        );
      }
    );
    this._inflating.add(done);
    void done.then(() => this._inflating.delete(done));
  }

  /** A handler called after an inflate: what it throws is reported, never left unhandled. */
  private _safely(call: () => void): void {
    try {
      call();
    } catch (error) {
      console.error('jupyterlab-fanout: handling a replayed response failed', error);
    }
  }

  private _onMessage(data: unknown): void {
    if (data instanceof ArrayBuffer) {
      for (const { id, bytes } of decodeDataFrame(data)) {
        const replay = this._replays.get(id);
        if (replay !== undefined) {
          this._replays.delete(id);
          this._replay(id, bytes, replay);
        } else {
          this._deliver(id, () => this._handlers.onData(id, bytes));
        }
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
    const id = message.id!;
    switch (message.type) {
      case 'open':
        this._deliver(id, () => this._handlers.onOpen(id, message.status ?? 200));
        break;
      case 'end':
        this._deliver(id, () => this._handlers.onEnd(id));
        break;
      case 'stopped':
        this._deliver(id, () => this._handlers.onStopped(id));
        break;
      case 'attached': {
        this._attaching = false;
        const responses = Array.isArray(message.responses) ? message.responses : [];
        for (const response of responses) {
          if (response.replay) {
            this._replays.set(response.id, response.replay);
          }
        }
        this._handlers.onAttached?.(message.batch ?? '', responses);
        break;
      }
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
          this._deliver(id, () => this._handlers.onError(id, error));
        }
        break;
      }
      default:
        console.warn(`jupyterlab-fanout: ignoring unknown message type ${message.type}`);
    }
  }

  private _socket: WebSocket;
  private _queue: string[] = [];
  /** Responses whose next record is a compressed replay (from `attached`): its encoding and inflated length. */
  private readonly _replays = new Map<string, { encoding: string; bytes: number }>();
  /** Responses whose replay is being inflated: their messages that arrived meanwhile. */
  private readonly _held = new Map<string, Array<() => void>>();
  /** The inflates under way (a close is reported after them). */
  private readonly _inflating = new Set<Promise<void>>();
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
