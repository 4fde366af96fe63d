/**
 * Bounds on what a request may carry. They keep one client from making the
 * daemon allocate without limit and keep error messages short; each is far
 * above what OVN puts in a Port_Binding. Documented in the README and proto.
 */
export const LIMITS = {
  /** Largest request message accepted by the server, in bytes. */
  maxMessageBytes: 1024 * 1024,
  /** Provider type: 1 to 64 characters of [A-Za-z0-9_.-], starting alphanumeric. */
  maxTypeLength: 64,
  /** instance_id and ctx_id (the daemon's own ids are 24 characters). */
  maxIdLength: 64,
  /** lport_name, iface_name, iface_type, in characters. */
  maxNameLength: 1024,
  /** Entries in each of lport_options and iface_options. */
  maxOptions: 512,
  maxOptionKeyLength: 256,
  maxOptionValueLength: 4096,
  /** Ports or ctx ids in one PreparePorts, FinishPorts or DestroyCtxs call. */
  maxBatch: 1024,
} as const;
