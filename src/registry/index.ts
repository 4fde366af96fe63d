export * from './errors';
export * from './provider';
export { DEFAULT_LIMITS, Registry } from './registry';
export type {
  CallerContext,
  OpenedInstance,
  PrepareAnswer,
  ProviderFault,
  ProviderInfo,
  ProviderKind,
  RegistryLimits,
  RegistryOptions,
  RegistryStats,
} from './registry';
export { newId } from './ctx-id';
