/**
 * vifplug as a library, every export named here: the typed client for
 * controllers written in TypeScript, the API's generated types, the
 * provider contract and registry for embedding the framework, and the SDK
 * that serves a provider from another process.
 */

// A controller's client.
export {
  VifplugClient,
  VifplugError,
  RETRYABLE_METHODS,
  ServingStatus,
  type CallOptions,
  type ClientOptions,
  type VifPlugMethod,
} from './client/client';
// Why vifplugd cannot be reached, in words a person can act on.
export { explainUnreachable, isUnreachable, type Unreachable, type UnreachableProblem, type ConnectionSettings } from './client/unreachable';
export * as api from './gen/vifplug/v1/vifplug';
export { decodeStatusDetails, codeName, goCodeName, ERROR_DOMAIN, type DecodedStatus } from './api/status';

// The provider contract (the seed's plug_class) and its errors.
export {
  NO_OPTIONS,
  PlugError,
  isPlugError,
  type FieldViolation,
  type OpType,
  type PlugErrorDetails,
  type PortCtxIn,
  type PortCtxOut,
  type PrepareResult,
  type ProviderClass,
  type ProviderFactory,
  type ProviderInstance,
  type CallBudget,
  type Representor,
  type StatusName,
} from './registry';

// What a PreparePort answer may say (the rules vifplugd applies to every
// provider's answer), for provider authors and tools that check providers.
export {
  ANSWER_INVALID,
  ANSWER_LIMITS,
  AnswerRefused,
  IFNAMSIZ,
  KERNEL_NETDEV_TYPES,
  VIF_IFACE_TYPES,
  ctxOutProblem,
  declineProblem,
  ifaceNameProblem,
  ifaceOptionsProblem,
  ifaceTypeProblem,
  isReason,
  netdevNameProblem,
  prepareAnswerProblem,
  type AnswerProblem,
} from './registry';
export { checkPrepareAnswer, type CheckedAnswer } from './api/wire';

// The registry, to embed the framework without the gRPC server.
export {
  DEFAULT_LIMITS,
  Registry,
  type CallerContext,
  type OpenedInstance,
  type PrepareAnswer,
  type ProviderFault,
  type ProviderInfo,
  type ProviderKind,
  type RegistryLimits,
  type RegistryOptions,
  type RegistryStats,
} from './registry';

// The provider SDK: a provider in another process, in a few lines.
export {
  serveProvider,
  type PortCall,
  type ProviderAnswer,
  type ProviderDefinition,
  type RegistrationOptions,
  type ServeOptions,
  type ServedProvider,
} from './sdk';
export * as providerApi from './gen/vifplug/provider/v1/provider';
