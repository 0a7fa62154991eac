import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SERVER_MAIN = `${ROOT}server/dist/main.js`;

/** A built program to run: `ready` is the log message that carries the port it bound. */
export interface Program {
  main: string;
  ready: string;
}

export const FLOODGATE: Program = { main: SERVER_MAIN, ready: 'gRPC listening' };

/** A real Floodgate process (the built server, or another built program), on ports it picked itself. */
export class ServerProcess {
  private constructor(
    readonly proc: ChildProcess,
    readonly grpcPort: number,
    /** Every output line so far; keeps growing while the process runs. */
    readonly logs: string[],
  ) {}

  get address(): string {
    return `127.0.0.1:${this.grpcPort}`;
  }

  static async start(env: Record<string, string> = {}, timeoutMs = 15_000, program = FLOODGATE): Promise<ServerProcess> {
    const proc = spawn(process.execPath, [program.main], {
      env: { PATH: process.env.PATH, GRPC_PORT: '0', GRPC_HOST: '127.0.0.1', LOG_LEVEL: 'info', SHUTDOWN_DRAIN_MS: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const logs: string[] = [];
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start:\n${logs.join('\n')}`)), timeoutMs);
      let buf = '';
      proc.stdout!.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          logs.push(line);
          const m = /"port":(\d+)/.exec(line);
          if (m && line.includes(program.ready)) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        }
      });
      proc.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}:\n${logs.join('\n')}`));
      });
    });
    return new ServerProcess(proc, port, logs);
  }

  /** Sends a signal and resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.proc.exitCode !== null) return this.proc.exitCode;
    const exited = new Promise<number | null>((r) => this.proc.once('exit', (code) => r(code)));
    this.proc.kill(signal);
    return exited;
  }
}

/** Runs the server expecting it to exit (e.g. on bad configuration). */
export async function runToExit(
  env: Record<string, string>,
  timeoutMs = 15_000,
  main = SERVER_MAIN,
): Promise<{ code: number | null; output: string }> {
  const proc = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH, GRPC_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not exit:\n${output}`));
    }, timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
