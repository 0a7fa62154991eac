import { createClient } from '@floodgate/client';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ConfigMapDir } from '../support/configmap.js';
import { eventually } from '../support/eventually.js';
import { runToExit, ServerProcess } from '../support/server-process.js';
import { uniquePrefix } from '../support/stack.js';

const redisUrl = inject('redisUrl');

const POLICIES_V1 = `policies:
  - name: reports
    limit: 2
    window: 1h
    algorithm: fixed_window
    scopes: [user]
`;
const POLICIES_V2 = `policies:
  - name: reports
    limit: 5
    window: 1h
    algorithm: token_bucket
    scopes: [user]
  - name: exports
    limit: 1
    window: 90s
    algorithm: sliding_window
`;

describe('a server process with POLICIES_FILE in a ConfigMap volume', () => {
  let cm: ConfigMapDir | undefined;
  let server: ServerProcess | undefined;
  afterEach(async () => {
    await server?.stop();
    await cm?.remove();
    server = cm = undefined;
  });

  it('serves the file, applies an atomic ..data swap within seconds, and keeps it when the next file is bad', async () => {
    cm = await ConfigMapDir.create({ 'policies.yaml': POLICIES_V1 });
    // A long periodic check: the change must arrive through the directory watch.
    server = await ServerProcess.start({
      POLICIES_FILE: cm.path('policies.yaml'),
      POLICIES_POLL_INTERVAL_MS: '3600000',
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: uniquePrefix(),
    });
    const client = createClient({ address: server.address, deadlineMs: 5_000 });
    try {
      const names = async () => (await client.getLimitStatus({ userId: 'ops' })).policies.map((p) => [p.policy!.name, p.policy!.algorithm]);
      expect(await names()).toEqual([['reports', 'fixed_window']]);
      expect((await client.checkLimit({ policy: 'reports', userId: 'ops', cost: 2 })).allowed).toBe(true);
      expect((await client.checkLimit({ policy: 'reports', userId: 'ops' })).allowed).toBe(false);

      await cm.update({ 'policies.yaml': POLICIES_V2 });
      await eventually('the swapped file is in force', async () => (await names()).length === 2);
      expect(await names()).toEqual([
        ['reports', 'token_bucket'],
        ['exports', 'sliding_window'],
      ]);
      // A changed algorithm starts from a clean key.
      expect((await client.checkLimit({ policy: 'reports', userId: 'ops', cost: 5 })).statuses[0]!.remaining).toBe(0);
      expect((await client.checkLimit({ policy: 'exports', userId: 'ops', ip: '192.0.2.1' })).allowed).toBe(true);

      await cm.update({ 'policies.yaml': POLICIES_V2.replace('limit: 1\n', 'limit: 1\n    colour: red\n') });
      await eventually('the rejection is logged', () => server!.logs.some((l) => l.includes('policy file rejected')));
      const rejection = JSON.parse(server.logs.find((l) => l.includes('policy file rejected'))!);
      expect(rejection).toMatchObject({ level: 'error', err: expect.stringContaining('policies.yaml:9: policy "exports": colour: unknown field') });
      expect(await names()).toHaveLength(2);
    } finally {
      client.close();
    }
  });

  it.each([
    ['an invalid field', `${POLICIES_V1}    window_size: 5\n`, 'POLICIES_FILE: policies.yaml:7: policy "reports": window_size: unknown field'],
    ['a missing file', undefined, 'POLICIES_FILE: ENOENT'],
  ])('refuses to start with %s, exiting 2 with the problem', async (_, text, message) => {
    cm = await ConfigMapDir.create(text === undefined ? {} : { 'policies.yaml': text });
    const { code, output } = await runToExit({ POLICIES_FILE: cm.path('policies.yaml') });
    expect(code).toBe(2);
    expect(output).toContain(message);
  });
});

describe('the settings of this feature', () => {
  it.each([
    ['MAX_BATCH_SIZE', '0'],
    ['MAX_BATCH_SIZE', 'many'],
    ['POLICIES_POLL_INTERVAL_MS', '5'],
  ])('exit non-zero naming %s when it is %s', async (name, value) => {
    const { code, output } = await runToExit({ [name]: value });
    expect(code).toBe(2);
    expect(output).toContain(`${name}:`);
  });
});
