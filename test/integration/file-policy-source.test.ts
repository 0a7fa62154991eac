import { rm, symlink, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { FilePolicySource } from '../../server/src/policy/file-policy-source.js';
import { PolicyFileError } from '../../server/src/policy/policy-file.js';
import { ConfigMapDir } from '../support/configmap.js';
import { eventually } from '../support/eventually.js';

const file = (limit: number, name = 'ai') => `policies:\n  - name: ${name}\n    limit: ${limit}\n    window: 1m\n`;

/** A logger whose JSON lines end up in `lines`. */
function capturingLog() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

describe('the policy file source', () => {
  let cm: ConfigMapDir;
  let source: FilePolicySource | undefined;
  afterEach(async () => {
    source?.close();
    source = undefined;
    await cm.remove();
  });

  // The poll interval is far longer than the waits: what is seen here came through the watch.
  const open = (log = capturingLog().log) => new FilePolicySource({ path: cm.path('policies.yaml'), pollIntervalMs: 3_600_000, log });

  it('picks up a ConfigMap update (the ..data symlink swapped atomically) through the directory watch', async () => {
    cm = await ConfigMapDir.create({ 'policies.yaml': file(20) });
    source = open();
    expect(source.get('ai')!.limit).toBe(20);
    await cm.update({ 'policies.yaml': file(7) + file(3, 'tts').replace('policies:\n', '') });
    await eventually('the new policies are in force', () => source!.get('ai')?.limit === 7);
    expect(source.list().map((p) => p.name)).toEqual(['ai', 'tts']);
    expect([source.reloads, source.reloadFailures]).toEqual([1, 0]);
  });

  it('keeps the old policies when the new file is bad, logs and counts it once, then takes the next good one', async () => {
    cm = await ConfigMapDir.create({ 'policies.yaml': file(20) });
    const { log, lines } = capturingLog();
    source = open(log);
    await cm.update({ 'policies.yaml': file(0) });
    await eventually('the bad file is rejected', () => source!.reloadFailures === 1);
    expect(source.get('ai')!.limit).toBe(20);
    const rejected = lines.find((l) => l.level === 50)!;
    expect(rejected.msg).toMatch(/policy file rejected/);
    expect(rejected.err).toContain('policies.yaml:3: policy "ai": limit: must be a whole number');
    // The same bad content seen again (another event, or the periodic check) is not a new failure.
    source.reload();
    expect(source.reloadFailures).toBe(1);
    await cm.update({ 'policies.yaml': file(9) });
    await eventually('the next good file is in force', () => source!.get('ai')?.limit === 9);
    expect([source.reloads, source.reloadFailures]).toEqual([1, 1]);
  });

  it('reloads a plainly edited file, and ignores a rewrite with the same content', async () => {
    cm = await ConfigMapDir.create({ 'other.yaml': '' });
    const path = cm.path('plain.yaml');
    await writeFile(path, file(5));
    source = new FilePolicySource({ path, pollIntervalMs: 3_600_000, log: capturingLog().log });
    await writeFile(path, file(5));
    source.reload();
    expect(source.reloads).toBe(0);
    await writeFile(path, file(6));
    await eventually('the edit is in force', () => source!.get('ai')?.limit === 6);
  });

  it('counts a file that disappears as a failure and keeps the policies', async () => {
    cm = await ConfigMapDir.create({ 'other.yaml': '' });
    const path = cm.path('gone.yaml');
    await writeFile(path, file(5));
    source = new FilePolicySource({ path, pollIntervalMs: 3_600_000, log: capturingLog().log });
    await rm(path);
    await eventually('the missing file is counted', () => source!.reloadFailures === 1);
    expect(source.get('ai')!.limit).toBe(5);
  });

  it('refuses to start from a bad file, naming the line, policy and field', async () => {
    cm = await ConfigMapDir.create({ 'policies.yaml': `${file(5)}    algorithm: leaky\n` });
    expect(() => open()).toThrow(PolicyFileError);
    expect(() => open()).toThrow('policies.yaml:5: policy "ai": algorithm: must be one of');
  });

  it('finds changes the watch cannot see with the periodic check: a link to a file edited in another directory', async () => {
    cm = await ConfigMapDir.create({ 'policies.yaml': file(20) });
    const elsewhere = await ConfigMapDir.create({ 'other.yaml': '' });
    try {
      const target = elsewhere.path('real.yaml');
      await writeFile(target, file(20));
      await symlink(target, cm.path('linked.yaml'));
      source = new FilePolicySource({ path: cm.path('linked.yaml'), pollIntervalMs: 100, log: capturingLog().log });
      await writeFile(target, file(11));
      await eventually('the periodic check applied the change', () => source!.get('ai')?.limit === 11);
    } finally {
      await elsewhere.remove();
    }
  });
});
