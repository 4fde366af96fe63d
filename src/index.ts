/**
 * vifplug as a library: the typed client for controllers written in
 * TypeScript, and the provider contract and registry for embedding.
 */
export {
  VifplugClient,
  VifplugError,
  RETRYABLE_METHODS,
  ServingStatus,
  type CallOptions,
  type ClientOptions,
  type VifPlugMethod,
} from './client/client';
export * as api from './gen/vifplug/v1/vifplug';
export { decodeStatusDetails, ERROR_DOMAIN, type DecodedStatus } from './grpc-status';
export * from './registry';
