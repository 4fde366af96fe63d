export { serveProvider, type PortCall, type ProviderAnswer, type ProviderDefinition, type ServeOptions, type ServedProvider } from './serve';
export type { RegistrationOptions } from './registration';
