import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, RedisServer } from './redis-server.js';

/** A Redis master watched by one Sentinel (quorum 1), both on loopback. */
export class RedisSentinel {
  private constructor(
    readonly master: RedisServer,
    readonly sentinel: RedisServer,
    readonly name: string,
  ) {}

  /** With `password`, the master requires it (the sentinel is told it; the sentinel itself has none). */
  static async start(name = 'fgmaster', password?: string): Promise<RedisSentinel> {
    const master = await RedisServer.start(undefined, password ? ['--requirepass', password] : []);
    const port = await freePort();
    // Sentinel rewrites its config file, so it gets its own.
    const dir = mkdtempSync(join(tmpdir(), 'fg-sentinel-'));
    const conf = join(dir, 'sentinel.conf');
    const lines = [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`];
    if (password) lines.push(`sentinel auth-pass ${name} ${password}`);
    writeFileSync(conf, [...lines, ''].join('\n'));
    const sentinel = await RedisServer.launch(port, dir, [conf, '--sentinel']);
    return new RedisSentinel(master, sentinel, name);
  }

  /** REDIS_SENTINELS and REDIS_SENTINEL_NAME for a Floodgate process. */
  get env(): Record<string, string> {
    return { REDIS_SENTINELS: `127.0.0.1:${this.sentinel.port}`, REDIS_SENTINEL_NAME: this.name };
  }

  async stop(): Promise<void> {
    await Promise.all([this.sentinel.stop(), this.master.stop()]);
  }
}
