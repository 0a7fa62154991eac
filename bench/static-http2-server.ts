import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { eventually } from '../test/support/eventually.js';
import { freePort } from '../test/support/redis-server.js';

/**
 * nghttpd (Debian: nghttp2-server), nghttp2's own C server, answering each path with a fixed
 * file: an HTTP/2 server with next to no work per call. Paced by the same h2load processes at the
 * same rate as Floodgate, its latency is what the machine and the loaders add by themselves.
 */
export class StaticHttp2Server {
  private constructor(
    readonly port: number,
    readonly proc: ChildProcess,
    private readonly dir: string,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Serves `files` (URL path → body) until stopped. */
  static async start(files: Record<string, Buffer>): Promise<StaticHttp2Server> {
    const dir = mkdtempSync(join(tmpdir(), 'fg-nghttpd-'));
    for (const [path, body] of Object.entries(files)) {
      const file = join(dir, path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, body);
    }
    const port = await freePort();
    const proc = spawn('nghttpd', ['--no-tls', '--address=127.0.0.1', '-d', dir, String(port)], { stdio: 'ignore' });
    const server = new StaticHttp2Server(port, proc, dir);
    try {
      await server.untilListening(proc);
    } catch (err) {
      server.stop();
      throw err;
    }
    return server;
  }

  private async untilListening(proc: ChildProcess): Promise<void> {
    let failure: Error | undefined;
    proc.once('error', (e) => (failure = new Error(`nghttpd: ${e.message} (install nghttp2-server for nghttpd)`)));
    proc.once('exit', (code) => (failure ??= new Error(`nghttpd exited with ${code}`)));
    const accepts = () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(this.port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
    await eventually(`nghttpd listening on ${this.port}`, async () => {
      if (failure) throw failure;
      return accepts();
    });
  }

  stop(): void {
    this.proc.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
