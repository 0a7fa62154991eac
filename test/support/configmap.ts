import { mkdir, mkdtemp, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A directory laid out the way the kubelet mounts a ConfigMap: the files live in a timestamped
 * directory, `..data` links to it, and each visible file links through `..data`. An update
 * writes a new timestamped directory and swaps `..data` atomically (new link + rename).
 */
export class ConfigMapDir {
  private version = 0;

  private constructor(readonly dir: string) {}

  static async create(files: Record<string, string>): Promise<ConfigMapDir> {
    const cm = new ConfigMapDir(await mkdtemp(join(tmpdir(), 'floodgate-configmap-')));
    await cm.update(files);
    for (const name of Object.keys(files)) await symlink(join('..data', name), join(cm.dir, name));
    return cm;
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  async update(files: Record<string, string>): Promise<void> {
    const data = join(this.dir, '..data');
    const old = this.version > 0 ? await readlink(data) : undefined;
    const next = `..2026_11_26_00_00_${String(++this.version).padStart(2, '0')}.${process.pid}`;
    await mkdir(join(this.dir, next));
    for (const [name, text] of Object.entries(files)) await writeFile(join(this.dir, next, name), text);
    await symlink(next, join(this.dir, '..data_tmp'));
    await rename(join(this.dir, '..data_tmp'), data);
    if (old) await rm(join(this.dir, old), { recursive: true });
  }

  remove(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true });
  }
}
