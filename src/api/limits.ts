/**
 * Bounds on what a message of either API may carry (vifplug.v1 from
 * controllers, vifplug.provider.v1 from providers). They keep one client or
 * provider from making the daemon allocate without limit and keep error
 * messages short; each is far above what OVN puts in a Port_Binding. The
 * bounds of an options map are the answer rules' (registry/answer-rules.ts):
 * what the daemon refuses from a controller it refuses from a provider too.
 * Documented in the README and the protos. Every check and every batching
 * loop takes its number from here.
 */

import { ANSWER_LIMITS } from '../registry';

/** Ports or ctx ids in one batch call (PreparePorts, FinishPorts, DestroyCtxs), of either API. */
export const MAX_BATCH = 1024;

/** Largest PreparePort handle a provider may answer; the daemon keeps it per ctx. */
export const MAX_HANDLE_BYTES = 4096;

export const LIMITS = {
  /** Largest request message accepted by the server, in bytes. */
  maxMessageBytes: 1024 * 1024,
  /** Provider type: 1 to 64 characters of [A-Za-z0-9_.-], starting alphanumeric (api/validate.ts). */
  maxTypeLength: 64,
  /** instance_id and ctx_id (the daemon's own ids are 24 characters). */
  maxIdLength: 64,
  /** lport_name, iface_name, iface_type, in characters; also a provider's decline_message. */
  maxNameLength: 1024,
  /** Entries in each of lport_options and iface_options. */
  maxOptions: ANSWER_LIMITS.maxOptions,
  maxOptionKeyLength: ANSWER_LIMITS.maxOptionKeyLength,
  maxOptionValueLength: ANSWER_LIMITS.maxOptionValueLength,
  maxBatch: MAX_BATCH,
} as const;
