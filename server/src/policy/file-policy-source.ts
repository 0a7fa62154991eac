import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../log.js';
import { parsePolicies } from './policy-file.js';
import type { Policy } from './policy.js';
import { StaticPolicySource, type PolicySource } from './policy-source.js';

export interface FilePolicySourceOptions {
  path: string;
  /** Fallback check for changes the directory watch misses (network volumes, some editors). */
  pollIntervalMs: number;
  log: Logger;
}

/** Events closer than this are one change (editors and Kubernetes write in several steps). */
const SETTLE_MS = 50;

/**
 * Policies from a file, reloaded when it changes. The file's directory is watched, not the
 * file: Kubernetes updates a mounted ConfigMap by atomically swapping the `..data` symlink in
 * that directory, which a watch on the file itself never sees. A periodic content hash covers
 * what the watch misses. A file that fails to parse or validate is logged and counted, and the
 * policies in force stay.
 */
export class FilePolicySource implements PolicySource {
  /** Successful reloads since start (the first load not counted). */
  reloads = 0;
  /** Changed files that were rejected; each distinct bad content counts once. */
  reloadFailures = 0;
  private current: StaticPolicySource;
  private hash: string;
  private rejectedHash: string | undefined;
  private watcher: FSWatcher | undefined;
  private readonly poller: NodeJS.Timeout;
  private settle: NodeJS.Timeout | undefined;

  /** Loads the file; throws (PolicyFileError or a read error) when it is unusable. */
  constructor(private readonly options: FilePolicySourceOptions) {
    const text = readFileSync(options.path, 'utf8');
    this.current = new StaticPolicySource(parsePolicies(text, basename(options.path)));
    this.hash = digest(text);
    this.poller = setInterval(() => this.reload(), options.pollIntervalMs);
    this.poller.unref();
    this.watchDirectory();
  }

  get(name: string): Policy | undefined {
    return this.current.get(name);
  }

  list(): readonly Policy[] {
    return this.current.list();
  }

  /** Re-reads the file; applies it when its content changed and is valid. */
  reload(): void {
    const { path, log } = this.options;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      this.reject(`read:${(err as NodeJS.ErrnoException).code}`, err as Error);
      return;
    }
    const hash = digest(text);
    if (hash === this.hash || hash === this.rejectedHash) return;
    let policies: Policy[];
    try {
      policies = parsePolicies(text, basename(path));
    } catch (err) {
      this.reject(hash, err as Error);
      return;
    }
    this.current = new StaticPolicySource(policies);
    this.hash = hash;
    this.rejectedHash = undefined;
    this.reloads++;
    log.info({ file: path, policies: policies.map((p) => p.name) }, `policies reloaded from ${path}`);
  }

  close(): void {
    clearInterval(this.poller);
    clearTimeout(this.settle);
    this.watcher?.close();
  }

  private reject(hash: string, err: Error): void {
    if (hash === this.rejectedHash) return;
    this.rejectedHash = hash;
    this.reloadFailures++;
    this.options.log.error({ file: this.options.path, err: err.message }, 'policy file rejected; the previous policies stay in force');
  }

  private watchDirectory(): void {
    try {
      this.watcher = watch(dirname(this.options.path), () => {
        clearTimeout(this.settle);
        this.settle = setTimeout(() => this.reload(), SETTLE_MS);
      });
      this.watcher.on('error', (err) => {
        this.options.log.warn({ err: err.message }, 'policy directory watch failed; relying on the periodic check');
        this.watcher?.close();
        this.watcher = undefined;
      });
      this.watcher.unref();
    } catch (err) {
      this.options.log.warn({ err: (err as Error).message }, 'cannot watch the policy directory; relying on the periodic check');
    }
  }
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
