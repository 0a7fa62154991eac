import { setLogger } from '@grpc/grpc-js';
import { format } from 'node:util';
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  // Each line is written to stdout synchronously: nothing is left in a buffer at exit, where an
  // exit-time flush into a closed pipe (`npm start | head -3`) would retry forever and the
  // process would never end. A failed write (EPIPE, ENOSPC) silences logging rather than throwing
  // into whatever was logging, shutdown included.
  const stdout = pino.destination({ dest: 1, sync: true });
  stdout.on('error', () => {
    stdout.write = () => true;
  });
  return pino(
    {
      level,
      base: { service: 'floodgate' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stdout,
  );
}

/**
 * grpc-js's own messages (by default `E …` lines on stderr, e.g. beside a failed bind) as
 * structured lines of `log`, so that every line the process writes is one JSON object.
 */
export function routeGrpcLogs(log: Logger): void {
  setLogger({
    error: (message?: unknown, ...rest: unknown[]) => log.error({ source: 'grpc-js' }, format(message, ...rest)),
    info: (message?: unknown, ...rest: unknown[]) => log.info({ source: 'grpc-js' }, format(message, ...rest)),
    debug: (message?: unknown, ...rest: unknown[]) => log.debug({ source: 'grpc-js' }, format(message, ...rest)),
  });
}
