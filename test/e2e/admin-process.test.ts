import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, FloodgateError, Reason } from '@floodgate/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { healthStatus } from '../support/probes.js';
import { runToExit, ServerProcess } from '../support/server-process.js';
import { uniquePrefix } from '../support/stack.js';

const redisUrl = inject('redisUrl');

describe('admin tokens and suspension across two processes on one Redis', () => {
  let dir: string;
  let servers: ServerProcess[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'floodgate-admin-'));
    writeFileSync(join(dir, 'tokens'), '# operators\nfile-token-1\n\n  file-token-2  \n');
    const env = { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: uniquePrefix(), ADMIN_TOKENS: 'env-token', ADMIN_TOKENS_FILE: join(dir, 'tokens') };
    servers = await Promise.all([ServerProcess.start(env), ServerProcess.start(env)]);
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts tokens from ADMIN_TOKENS and ADMIN_TOKENS_FILE; a suspension on one replica holds on the other', async () => {
    const [a, b] = servers.map((s) => s.address) as [string, string];
    for (const service of ['floodgate.v1.TrackingService', 'floodgate.v1.AdminService']) expect(await healthStatus(a, service)).toBe('SERVING');
    const viaEnv = createClient({ address: a, token: 'env-token', deadlineMs: 5_000 });
    const viaFile = createClient({ address: b, token: 'file-token-2', deadlineMs: 5_000 });
    const wrong = createClient({ address: b, token: '# operators', deadlineMs: 5_000 });
    try {
      await viaEnv.admin.setSuspension({ userId: 'e2e-user', suspended: true, reason: 'e2e' });
      const denied = await viaFile.checkLimit({ policy: 'ai', userId: 'e2e-user', recordActivity: 'ai' });
      expect(denied.reason).toBe(Reason.REASON_SUSPENDED);
      const detail = await viaFile.admin.getUserDetail({ userId: 'e2e-user' });
      expect(detail.stats!.suspension).toMatchObject({ suspended: true, reason: 'e2e', expiresAtMs: 0 });
      expect(detail.stats!.totalRequests).toBe(0);
      const err = await wrong.admin.getStatistics().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FloodgateError);
      expect((err as FloodgateError).codeName).toBe('UNAUTHENTICATED');
      await viaFile.admin.setSuspension({ userId: 'e2e-user', suspended: false });
      expect((await viaEnv.checkLimit({ policy: 'ai', userId: 'e2e-user', recordActivity: 'ai' })).reason).toBe(Reason.REASON_OK);
      expect((await viaEnv.getUserStats({ userId: 'e2e-user' })).stats!.totalRequests).toBe(1);
    } finally {
      for (const c of [viaEnv, viaFile, wrong]) c.close();
    }
  });

  it('exits 2 naming ADMIN_TOKENS_FILE when the file is missing or holds no token', async () => {
    writeFileSync(join(dir, 'empty'), '# nothing yet\n');
    for (const file of [join(dir, 'missing'), join(dir, 'empty')]) {
      const { code, output } = await runToExit({ ADMIN_TOKENS_FILE: file });
      expect(code).toBe(2);
      expect(output).toContain('ADMIN_TOKENS_FILE:');
    }
  });
});
