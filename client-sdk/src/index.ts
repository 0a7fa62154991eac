export { createClient, type ClientOptions, type FloodgateClient } from './client.js';
export { FloodgateError, type ErrorBody, type ErrorCodeName } from './errors.js';
export * from './grpc.js';
