/**
 * streamer-client: TypeScript/JavaScript SDK for Streamer.
 * @packageDocumentation
 */
export { StreamerClient, CLIENT_DEFAULTS } from './client.js';
export type { StreamerClientOptions, RequestOptions, QueuedInfo, ClientEvents } from './client.js';
export type { ConnectionState, StateChange } from './connection.js';
export {
  StreamerError,
  CloseCodes,
  closePolicy,
  errorFromClose,
  SERVER_ERROR_CODES,
  CLIENT_ERROR_CODES,
  RETRYABLE_BY_DEFAULT,
  CLIENT_SOURCE,
} from './errors.js';
export type { ErrorCode, StreamerErrorInit, CloseAction } from './errors.js';
export { generateRequestId } from './ids.js';
export { backoffDelay, DEFAULT_RECONNECT } from './backoff.js';
export type { ReconnectOptions } from './backoff.js';
export type {
  Progress,
  ResponseBody,
  ResultBody,
  ErrorBody,
  ServerMessage,
  RequestMessage,
  RequestSnapshot,
  RequestStatus,
  CancelResult,
} from './protocol.js';
export { SERVER_MESSAGE_TYPES, REQUEST_STATUSES, CANCEL_STATUSES } from './protocol.js';
export type { WebSocketLike, WebSocketConstructor } from './websocket.js';
export { StreamerWorker, workerUrl } from './worker.js';
export type { StreamerWorkerOptions } from './worker.js';
export { Job, JobError } from './worker-job.js';
export type { JobIdentity, JobFrame } from './worker-job.js';
export { RegistrationError } from './worker-lane.js';
export type { ActionOptions, HandlerContext, WorkerHandler } from './worker-lane.js';
