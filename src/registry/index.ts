export * from './errors';
export * from './provider';
export { DEFAULT_LIMITS, Registry } from './registry';
export type { OpenedInstance, ProviderInfo, RegistryLimits, RegistryOptions, RegistryStats } from './registry';
export type { ProviderKind } from './class-table';
export type { CallerContext, ProviderFault } from './instance-gate';
export type { PrepareAnswer } from './port-cycle';
export { newId } from './ctx-id';
