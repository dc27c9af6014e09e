/**
 * The real transports behind a {@link TransportSpec}: the batch WebSocket to the Jupyter server,
 * or direct fetches. Usable in a Web Worker (no DOM).
 */
import { directConnectionFactory } from './direct';
import { WebSocketBatchConnection } from './transport';
import type { TransportConnector } from './host';
import type { TransportSpec } from './protocol';

/**
 * One batch WebSocket opened ahead of time per URL, so that Generate responses does not wait
 * for a handshake (several milliseconds, more behind a proxy). Taking the spare does not open
 * the next one: that handshake would reach the server together with the batch's `start`
 * messages and delay them (measured: 1–10 ms on the first token). The model asks for the next
 * spare (`prepare`) once its batch has ended. A spare that closes while idle (the server
 * restarted, a proxy timed it out) is dropped, not reopened, so a server that is down is not
 * called in a loop.
 */
export class SpareSockets {
  constructor(private readonly _open: (url: string) => WebSocket = url => new WebSocket(url)) {}

  /** A socket for a new batch: the spare if it is open or opening, else a new one. */
  take(url: string): WebSocket {
    const spare = this._spares.get(url);
    this._spares.delete(url);
    return spare && spare.readyState <= WebSocket.OPEN ? spare : this._open(url);
  }

  /** Open a spare for `url` unless one is there. */
  prepare(url: string): void {
    if (this._spares.has(url)) {
      return;
    }
    const socket = this._open(url);
    socket.onclose = () => {
      if (this._spares.get(url) === socket) {
        this._spares.delete(url);
      }
    };
    this._spares.set(url, socket);
  }

  /** Close every spare. */
  dispose(): void {
    for (const socket of this._spares.values()) {
      socket.close(1000, 'not needed');
    }
    this._spares.clear();
  }

  private readonly _spares = new Map<string, WebSocket>();
}

/**
 * The connector of the real transports; with `spares`, each proxy batch takes a socket opened
 * ahead of time, and `prepare` opens one.
 */
export function realTransports(spares: SpareSockets | null): {
  connect: TransportConnector;
  prepare: (transport: TransportSpec) => void;
} {
  return {
    connect: (transport, handlers) =>
      transport.kind === 'direct'
        ? directConnectionFactory({ baseUrl: transport.baseUrl, apiKey: transport.apiKey })(handlers)
        : new WebSocketBatchConnection(transport.url, handlers, spares ? url => spares.take(url) : undefined),
    prepare: transport => {
      if (transport.kind === 'proxy') {
        spares?.prepare(transport.url);
      }
    }
  };
}
