/**
 * The real transports behind a {@link TransportSpec}: the batch WebSocket to the Jupyter server,
 * or direct fetches. Usable in a Web Worker (no DOM).
 */
import { directConnectionFactory } from '../direct';
import { WebSocketBatchConnection } from '../transport';
import type { TransportConnector } from './host';

export const connectTransport: TransportConnector = (transport, handlers) =>
  transport.kind === 'direct'
    ? directConnectionFactory({ baseUrl: transport.baseUrl, apiKey: transport.apiKey })(handlers)
    : new WebSocketBatchConnection(transport.url, handlers);
