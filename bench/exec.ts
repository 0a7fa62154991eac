import { spawn } from 'node:child_process';

/**
 * Runs a program to its end, with `env` added to this process's environment; resolves with its
 * stdout, rejects with its output when it fails.
 */
export function exec(cmd: string, args: readonly string[], whenMissing = '', env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
    proc.once('error', (e) => reject(new Error(`${cmd}: ${e.message}${whenMissing ? ` (${whenMissing})` : ''}`)));
    // 'close', not 'exit': only then has all of its output been read.
    proc.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited with ${code}: ${err}${out}`))));
  });
}
