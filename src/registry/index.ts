export * from './errors';
export * from './provider';
export { Registry } from './registry';
export type {
  OpenedInstance,
  PrepareAnswer,
  ProviderFault,
  ProviderInfo,
  ProviderKind,
  RegistryOptions,
  RegistryStats,
} from './registry';
export { newId } from './ctx-id';
