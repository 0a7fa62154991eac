export { createClient, type Call, type ClientOptions, type DeepPartial, type FloodgateClient } from './client.js';
export { FloodgateError, type ErrorBody, type ErrorCodeName } from './errors.js';
export * from './grpc.js';
