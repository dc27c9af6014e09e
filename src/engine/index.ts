/**
 * The streaming engine and every transport it speaks: the batch WebSocket to the Jupyter server
 * (`./transport`), direct fetches (`./direct`), the Web Worker it runs in, and its protocol.
 */
export * from './protocol';
export { localEngine, STOP_ANSWER_MS, StreamHost } from './host';
export type { IStreamHostOptions, TransportConnector } from './host';
export { workerEngine } from './remote';
export type { IWorkerEngineOptions, IWorkerLike } from './remote';
export { realTransports, SpareSockets } from './connect';
export { batchSocketUrl, decodeDataFrame, WebSocketBatchConnection } from './transport';
export type { ConnectionFactory, IAttachedWire, IBatchConnection, IConnectionHandlers } from './transport';
export { directConnectionFactory, directModeWarning, directRequestBody, HTTP1_CONNECTIONS_PER_HOST } from './direct';
export type { IDirectOptions } from './direct';
