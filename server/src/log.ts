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
