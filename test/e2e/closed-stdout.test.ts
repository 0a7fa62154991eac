import { afterEach, describe, expect, inject, it } from 'vitest';
import { FLOODGATE, GATEWAY, ServerProcess } from '../support/server-process.js';
import { uniquePrefix } from '../support/stack.js';

const GRACE_MS = 3_000;

/** Resolves with the exit code (or the signal that ended it), or 'running' if it is still up after `ms`. */
function exitWithin(server: ServerProcess, ms: number): Promise<number | string> {
  const { proc } = server;
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.exitCode ?? proc.signalCode!);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('running'), ms);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal!);
    });
  });
}

describe('shutdown when stdout is a closed pipe (`npm start | head -3`)', () => {
  const started: ServerProcess[] = [];
  afterEach(async () => {
    for (const s of started.splice(0)) await s.stop('SIGKILL');
  });

  it.each([
    ['the server', FLOODGATE],
    ['the standalone gateway', GATEWAY],
  ])('%s exits on SIGTERM within the grace period', async (_name, program) => {
    const floodgate = await ServerProcess.start({ REDIS_URL: inject('redisUrl'), REDIS_KEY_PREFIX: uniquePrefix(), SHUTDOWN_GRACE_MS: String(GRACE_MS) });
    started.push(floodgate);
    const server =
      program === FLOODGATE
        ? floodgate
        : await ServerProcess.start({ FLOODGATE_GRPC_ADDRESS: floodgate.address, ADMIN_TOKENS: 't' }, 15_000, GATEWAY);
    if (server !== floodgate) started.push(server);

    // The reader goes away, like `head` after its lines: every later write to stdout is EPIPE.
    server.proc.stdout!.destroy();
    server.proc.kill('SIGTERM');
    expect(await exitWithin(server, GRACE_MS + 2_000)).toBe(0);
  });
});
