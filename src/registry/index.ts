/**
 * The registry as the rest of the code uses it: the provider contract, its
 * errors, the Registry and what it answers with, the change feed. The pure
 * core: nothing here imports gRPC, a logger or I/O.
 */

export * from './answer-rules';
export * from './errors';
export * from './provider';
export { DEFAULT_LIMITS, Registry } from './registry';
export type { OpenedInstance, ProviderInfo, RegistryLimits, RegistryOptions, RegistryStats } from './registry';
export type { ProviderKind } from './class-table';
export type { CallerContext, ProviderFault } from './instance-gate';
export type { PrepareAnswer } from './port-cycle';
export { newId } from './ctx-id';
export { ChangeFeed } from './change-feed';
export type { Change, ChangeKind, ChangeListener } from './change-feed';
export * from './pci-address';
