import { createClient, parseHostPort } from '@floodgate/client';
import { installHttp2GcFixes } from '@floodgate/client/http2';
import { pino } from 'pino';
import { createApp } from './app.js';

const log = pino({ base: { service: 'example-app' } });

/** Reads an env var; a bad value exits with status 2 naming it. */
function env(name: string, fallback: string, valid: (v: string) => boolean, expected: string): string {
  const value = process.env[name] ?? fallback;
  if (!valid(value)) {
    log.fatal(`${name}: must be ${expected}, got "${value}"`);
    process.exit(2);
  }
  return value;
}

function isHostPort(v: string): boolean {
  try {
    parseHostPort(v);
    return true;
  } catch {
    return false;
  }
}

const address = env('FLOODGATE_ADDRESS', '127.0.0.1:50051', isHostPort, 'host:port with a port 1-65535');
const deadlineMs = Number(env('FLOODGATE_DEADLINE_MS', '500', (v) => /^\d{1,6}$/.test(v) && Number(v) > 0, 'a positive number of ms'));
const port = Number(env('PORT', '3000', (v) => /^\d{1,5}$/.test(v) && Number(v) <= 65_535, 'a port number 0-65535'));

// Steady traffic through grpc-js promotes every call on Node 20 without these (see the SDK README).
installHttp2GcFixes();

const client = createClient({
  address,
  deadlineMs,
  // An outage of the limiter should not take the app down: allow, and say so in the log.
  onUnavailable: 'allow',
  onUnavailableEvent: (e) => log.warn({ method: e.method, floodgate: e.address, err: e.error.message, outcome: e.outcome }, 'Floodgate unavailable'),
  denyCache: true,
});

const server = createApp(client, log).listen(port, () => {
  const bound = (server.address() as { port: number }).port;
  log.info({ port: bound, floodgate: address }, `example app listening on port ${bound}`);
});

function shutdown(signal: string) {
  log.info({ signal }, 'shutting down');
  server.close(() => {
    client.close();
    process.exit(0);
  });
}
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
