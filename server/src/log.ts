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

/** A one-line fatal log and exit 1: for failures at start-up whose message says it all. */
export function fatal(log: Logger, message: string): never {
  log.fatal(message);
  process.exit(1);
}

/** What a failed listen exits with: one line naming the variables to fix (`vars`), no stack. */
export function cannotListen(log: Logger, vars: string, host: string, port: number): (err: Error) => never {
  return (err) => fatal(log, `${vars}: cannot listen on ${host}:${port}: ${err.message}`);
}

/**
 * What libraries write past the logger, as structured lines of `log`, so that every line the
 * process writes is one JSON object: grpc-js's own messages (by default `E …` lines on stderr,
 * e.g. beside a failed bind), the Redis client's `console.warn` (a password Redis does not ask
 * for) and Node's process warnings.
 */
export function routeOtherOutput(log: Logger): void {
  const line = (level: 'error' | 'warn' | 'info' | 'debug', source: string) => (message?: unknown, ...rest: unknown[]) => log[level]({ source }, format(message, ...rest));
  setLogger({ error: line('error', 'grpc-js'), info: line('info', 'grpc-js'), debug: line('debug', 'grpc-js') });
  console.warn = line('warn', 'console');
  console.error = line('error', 'console');
  // Node's own listener prints them as plain text.
  process.removeAllListeners('warning');
  process.on('warning', (w: Error & { code?: string }) => log.warn({ source: 'process', name: w.name, code: w.code }, w.message));
}
