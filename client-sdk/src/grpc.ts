// Generated service definitions and message types, for servers and advanced clients.
export * from './gen/floodgate/v1/ratelimit.js';
export * from './gen/floodgate/v1/tracking.js';
export * from './gen/floodgate/v1/admin.js';
