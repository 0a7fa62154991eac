// Generated service definitions and message types, for servers and advanced clients.
export * from './gen/floodgate/v1/ratelimit.js';
export * from './gen/floodgate/v1/tracking.js';
export * from './gen/floodgate/v1/admin.js';
export {
  createClient,
  isRequestId,
  type Call,
  type CallOptions,
  type Check,
  type Checks,
  type CheckLimitsDecisions,
  type CheckResult,
  type CheckTransport,
  type ClientOptions,
  type DeepPartial,
  type FloodgateClient,
  type UnavailableEvent,
} from './client.js';
export { parseHostPort, type HostPort } from './address.js';
export { bindingStatus, toDecision, type Decision, type UnavailableMode } from './decision.js';
export { DenyCache, type DenyCacheOptions } from './deny-cache.js';
export { FloodgateError, type ErrorBody, type ErrorCodeName } from './errors.js';
// The gRPC status codes FloodgateError carries.
export { status } from '@grpc/grpc-js';
export { rateLimitHeaders } from './headers.js';
export { scopeName } from './scope.js';
export { decisionOf, type RateLimitOptions } from './http-limit.js';
