export * from './protocol';
export { localEngine, StreamHost } from './host';
export type { IStreamHostOptions, TransportConnector } from './host';
export { workerEngine } from './remote';
export type { IWorkerEngineOptions, IWorkerLike } from './remote';
export { realTransports, SpareSockets } from './connect';
