import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A throwaway redis-server on a loopback port: no persistence, its own temp dir. */
export class RedisServer {
  private constructor(
    readonly port: number,
    private readonly proc: ChildProcess,
    private readonly dir: string,
    private readonly args: string[],
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(port?: number, extraArgs: string[] = []): Promise<RedisServer> {
    const p = port ?? (await freePort());
    const dir = mkdtempSync(join(tmpdir(), 'fg-redis-'));
    return RedisServer.launch(p, dir, ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs]);
  }

  /** Runs redis-server with `args`, owning `dir` (removed on stop), and waits until `port` answers. */
  static async launch(port: number, dir: string, args: string[]): Promise<RedisServer> {
    const server = new RedisServer(port, spawn('redis-server', args, { stdio: 'ignore' }), dir, args);
    await server.waitReady();
    return server;
  }

  async waitReady(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const c = new Redis({ port: this.port, host: '127.0.0.1', lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => {});
      try {
        await c.connect();
        await c.ping();
        return;
      } catch (err) {
        // A server with requirepass is up when it asks for the password.
        if (/NOAUTH/.test((err as Error).message)) return;
        if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not start: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        c.disconnect();
      }
    }
  }

  /** SIGSTOP: the server holds every connection open and answers nothing (a slow Redis). */
  pause(): void {
    this.proc.kill('SIGSTOP');
  }

  resume(): void {
    this.proc.kill('SIGCONT');
  }

  /** SIGKILL, keeping nothing (no persistence); start(port) brings a fresh one back on the same port. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** SIGKILL, keeping the directory (a cluster node's nodes.conf), so `restart` can bring it back. */
  async kill(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGKILL');
      await exited;
    }
  }

  /** The same server again (port, directory, arguments): a cluster node rejoins its cluster. */
  async restart(): Promise<RedisServer> {
    await this.kill();
    return RedisServer.launch(this.port, this.dir, this.args);
  }
}
