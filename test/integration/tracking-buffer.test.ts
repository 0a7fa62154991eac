import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/src/clock.js';
import { KeySpace } from '../../server/src/store/keys.js';
import { RedisStore } from '../../server/src/store/redis-store.js';
import { ActivityBuffer } from '../../server/src/tracking/activity-buffer.js';
import { openTracking } from '../../server/src/tracking/open-tracking.js';
import { Tracker } from '../../server/src/tracking/tracker.js';
import { failure } from '../support/failure.js';
import { RedisServer } from '../support/redis-server.js';
import { uniquePrefix } from '../support/stack.js';

describe('tracking writes while Redis is down', () => {
  let redis: RedisServer;
  let store: RedisStore;
  let buffer: ActivityBuffer;
  let tracker: Tracker;
  const lines: Array<{ level: number; msg: string; [k: string]: unknown }> = [];
  beforeEach(async () => {
    redis = await RedisServer.start();
    store = await RedisStore.connect({ target: { kind: 'single', url: redis.url }, commandTimeoutMs: 300, connectTimeoutMs: 2_000 });
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) });
    buffer = new ActivityBuffer({ capacity: 5, retryIntervalMs: 50, log: pino({ level: 'info' }, sink) });
    const { tracking } = openTracking(store, new KeySpace(uniquePrefix()), new ManualClock());
    tracker = new Tracker(tracking, new ManualClock(), buffer);
  });
  afterEach(async () => {
    buffer.close();
    await store.close();
    await redis.stop();
  });

  const record = (userId: string) => tracker.record(tracker.event({ userId, activity: 'ai', ip: '', sessionId: '', atMs: 0 }));

  it('are held up to the capacity, the overflow dropped, counted and logged, and the held ones written when Redis is back', async () => {
    expect(await record('before')).toBe('written');
    await redis.stop();

    const results = [];
    for (let i = 0; i < 8; i++) results.push(await record('outage'));
    expect(results).toEqual(['buffered', 'buffered', 'buffered', 'buffered', 'buffered', 'dropped', 'dropped', 'dropped']);
    expect({ size: buffer.size, dropped: buffer.dropped }).toEqual({ size: 5, dropped: 3 });
    // Reads are not buffered: they fail as the store does.
    expect((await failure(tracker.stats('outage'))).codeName).toBe('UNAVAILABLE');

    redis = await RedisServer.start(redis.port);
    const deadline = Date.now() + 10_000;
    while (buffer.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(buffer.size).toBe(0);
    // The restarted Redis is empty: exactly the five held events arrived.
    expect((await tracker.stats('outage')).stats!.totalRequests).toBe(5);
    expect(await record('after')).toBe('written');

    expect(lines.filter((l) => /tracking buffer full/.test(l.msg))).toHaveLength(1);
    expect(lines.find((l) => /tracking buffer written/.test(l.msg))).toMatchObject({ written: 5, dropped: 3 });
  });
});
