import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SERVER_MAIN = `${ROOT}server/dist/main.js`;
export const GATEWAY_MAIN = `${ROOT}server/dist/gateway-main.js`;

/** A built program to run: `ready` is the log message that says it is listening. */
export interface Program {
  main: string;
  ready: string;
  /** Options for node before the script (e.g. --cpu-prof for the bench). */
  nodeArgs?: string[];
}

/** The V8 options the image runs the server with (its CMD; the Dockerfile test holds them equal). */
export const SERVER_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=64', '--no-allocation-site-pretenuring', '--no-parallel-scavenge'];

export const FLOODGATE: Program = { main: SERVER_MAIN, ready: 'gRPC listening', nodeArgs: [...SERVER_NODE_OPTIONS] };
export const GATEWAY: Program = { main: GATEWAY_MAIN, ready: 'HTTP listening' };

/** A real Floodgate process (the built server, or another built program), on ports it picked itself. */
export class ServerProcess {
  private constructor(
    readonly proc: ChildProcess,
    /** The port in the ready line (the gRPC port of the server). */
    readonly grpcPort: number,
    /** The admin gateway's port, when this process runs one. */
    readonly httpPort: number | undefined,
    /** Every output line so far; keeps growing while the process runs. */
    readonly logs: string[],
  ) {}

  get address(): string {
    return `127.0.0.1:${this.grpcPort}`;
  }

  get httpUrl(): string {
    if (this.httpPort === undefined) throw new Error('this process runs no HTTP gateway');
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** Starts a process; ports are free ones (HTTP_PORT and GRPC_PORT 0) unless `env` sets them. */
  static async start(env: Record<string, string> = {}, timeoutMs = 15_000, program = FLOODGATE): Promise<ServerProcess> {
    const proc = spawn(process.execPath, [...(program.nodeArgs ?? []), program.main], {
      env: {
        PATH: process.env.PATH,
        GRPC_PORT: '0',
        GRPC_HOST: '127.0.0.1',
        HTTP_PORT: '0',
        HTTP_HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        SHUTDOWN_DRAIN_MS: '0',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const logs: string[] = [];
    let httpPort: number | undefined;
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
          const http = /"httpPort":(\d+)/.exec(line);
          if (http) httpPort = Number(http[1]);
          if (line.includes(program.ready)) {
            clearTimeout(timer);
            resolve(Number(/"port":(\d+)/.exec(line)?.[1] ?? 0));
          }
        }
      });
      proc.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}:\n${logs.join('\n')}`));
      });
    });
    return new ServerProcess(proc, port, httpPort, logs);
  }

  /** Sends a signal and resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    // Already ended (by an exit, or by a signal: exitCode stays null then).
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.proc.exitCode;
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
    env: { PATH: process.env.PATH, GRPC_PORT: '0', HTTP_PORT: '0', ...env },
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
