import type { Server } from '@grpc/grpc-js';
import type { Readiness } from './grpc/readiness.js';
import type { Logger } from './log.js';

export interface ShutdownDeps {
  server: Server;
  readiness: Readiness;
  log: Logger;
  drainMs: number;
  graceMs: number;
  /** Ends the long-lived streams (each after answering what it holds), when new calls are refused. */
  closeStreams: () => void;
  /** Closes what the server holds (Redis), after the last call. */
  close: () => Promise<void>;
  exit: (code: number) => void;
}

/**
 * SIGTERM: health NOT_SERVING at once, but keep answering for `drainMs` so load balancers and
 * the kubelet stop routing here before any call is refused; then refuse new calls, let the
 * in-flight ones finish (streams end once they have answered what they hold, so their clients
 * reopen them elsewhere), close the store and exit 0. Past `graceMs` (counted from the signal) it
 * exits 1 whatever is still running.
 */
export function gracefulShutdown(d: ShutdownDeps): (signal: string) => void {
  let started = false;
  return (signal) => {
    if (started) return;
    started = true;
    d.readiness.drain();
    d.log.info({ signal, drainMs: d.drainMs, graceMs: d.graceMs }, 'shutting down: health NOT_SERVING, still answering while draining');
    const force = setTimeout(() => {
      // Closing Redis could wait on Redis itself; the process ending closes its connections anyway.
      d.log.error({ graceMs: d.graceMs }, 'grace period over: exiting with calls still in flight');
      d.server.forceShutdown();
      d.exit(1);
    }, d.graceMs);
    setTimeout(() => {
      d.log.info('drain over: refusing new calls, finishing the ones in flight');
      d.closeStreams();
      d.server.tryShutdown(() => {
        void d.close().then(
          () => {
            clearTimeout(force);
            d.log.info('stopped');
            d.exit(0);
          },
          (err: unknown) => {
            clearTimeout(force);
            d.log.error({ err }, 'closing the store failed');
            d.exit(1);
          },
        );
      });
    }, d.drainMs);
  };
}
