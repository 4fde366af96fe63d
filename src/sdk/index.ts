/**
 * The provider SDK: serveProvider and the types a provider is written with.
 */

export { serveProvider, type PortCall, type ProviderAnswer, type ProviderDefinition, type ServeOptions, type ServedProvider } from './serve';
export type { RegistrationOptions } from './registration';
