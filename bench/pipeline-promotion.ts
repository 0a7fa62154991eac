/**
 * `npm run bench:pipelines`: what ioredis promotes to the old generation when the same paced
 * commands go out one by one, through auto-pipelining, or through one explicit pipeline per
 * event-loop turn (and that, with each pipeline's queue and results emptied once it answered), and
 * what merely constructing a pipeline per call, holding the caller and never sent, promotes; then
 * the same with the `length` accessor ioredis defines on every Pipeline in its constructor
 * defined once on the prototype instead (the fix to propose upstream).
 * Each mode runs in its own process under `--trace-gc-nvp`: 65,000 SETs at 6,500 per second, each
 * with a small object kept until its reply, as a caller's request would be. The reproduction
 * behind Floodgate's switch from auto-pipelining to corked writes (docs/benchmarks.md).
 */
import { fileURLToPath } from 'node:url';
import { Pipeline, Redis } from 'ioredis';
import { RedisServer } from '../test/support/redis-server.js';
import { exec } from './exec.js';
import { summarizeTraceGc } from './trace-gc.js';

const MODES = [
  'one by one',
  'auto-pipelining',
  'a pipeline per turn',
  'a pipeline per turn, emptied after',
  'a pipeline per call, never sent',
  'a pipeline per call, never sent, length on the prototype',
] as const;
type Mode = (typeof MODES)[number];
const RATE = 6_500;
const CALLS = 65_000;

/** The child: sends the calls in `mode` against the Redis at `port`, then exits. */
async function load(mode: Mode, port: number): Promise<void> {
  const redis = new Redis({ port, enableAutoPipelining: mode === 'auto-pipelining', enableOfflineQueue: false, commandTimeout: 500 });
  if (mode === 'a pipeline per call, never sent, length on the prototype') lengthOnPrototype(redis);
  await new Promise((r) => redis.once('ready', r));
  type Turn = { pipeline: ReturnType<Redis['pipeline']>; replies: Array<() => void> };
  let turn: Turn | undefined;
  const send = (key: string, caller: object): Promise<unknown> => {
    if (mode === 'one by one' || mode === 'auto-pipelining') return redis.set(key, 'v');
    if (mode === 'a pipeline per call, never sent' || mode === 'a pipeline per call, never sent, length on the prototype') {
      Object.assign(redis.pipeline(), { caller });
      return Promise.resolve();
    }
    if (!turn) {
      const current: Turn = { pipeline: redis.pipeline(), replies: [] };
      turn = current;
      setImmediate(() => {
        turn = undefined;
        void current.pipeline.exec().then(() => {
          for (const reply of current.replies) reply();
          if (mode === 'a pipeline per turn, emptied after') Object.assign(current.pipeline, { _queue: [], _result: [] });
        });
      });
    }
    turn.pipeline.set(key, 'v');
    const replies = turn.replies;
    return new Promise<void>((resolve) => replies.push(resolve));
  };
  const started = performance.now();
  let sent = 0;
  const answered: Array<Promise<unknown>> = [];
  while (sent < CALLS) {
    const due = Math.min(CALLS, Math.floor(((performance.now() - started) / 1000) * RATE));
    for (; sent < due; sent++) {
      const caller = { id: sent, at: Date.now(), fields: new Array<number>(16).fill(sent) };
      answered.push(send(`k${sent % 100}`, caller).then(() => caller.id));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(answered);
  redis.disconnect();
}

/** Pipeline's `length` as one getter on the prototype; the constructor's own definition skipped. */
function lengthOnPrototype(redis: Redis): void {
  Object.defineProperty(Pipeline.prototype, 'length', {
    get(this: { _queue: unknown[] }) {
      return this._queue.length;
    },
  });
  const pipeline = redis.pipeline.bind(redis);
  const define = Object.defineProperty;
  redis.pipeline = (...args: Parameters<Redis['pipeline']>) => {
    Object.defineProperty = ((o: object, key: PropertyKey, d: PropertyDescriptor) => (key === 'length' && o instanceof Pipeline ? o : define(o, key, d))) as typeof Object.defineProperty;
    try {
      return pipeline(...args);
    } finally {
      Object.defineProperty = define;
    }
  };
}

/** The child's stdout, where V8 writes its GC trace. */
const runChild = (mode: Mode, port: number): Promise<string> =>
  exec(process.execPath, ['--trace-gc-nvp', '--import', 'tsx', fileURLToPath(import.meta.url), mode, String(port)]);

async function main(): Promise<void> {
  const [mode, port] = process.argv.slice(2);
  if (mode !== undefined) {
    if (!(MODES as readonly string[]).includes(mode)) throw new Error(`mode: expected one of ${MODES.join(', ')}, got "${mode}"`);
    return load(mode as Mode, Number(port));
  }
  const redis = await RedisServer.start();
  try {
    process.stdout.write(`${CALLS} SETs at ${RATE}/s per run\n\n| Round | Sent | scavenges | promoted | full collections | GC pauses |\n| --- | --- | ---: | ---: | ---: | ---: |\n`);
    for (let round = 1; round <= 2; round++) {
      for (const m of MODES) {
        const r = summarizeTraceGc(await runChild(m, redis.port));
        process.stdout.write(`| ${round} | ${m} | ${r.scavenges} | ${(r.promotedBytes / 1e6).toFixed(1)} MB | ${r.fullCollections} | ${r.pauseMs.toFixed(0)} ms |\n`);
      }
    }
  } finally {
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:pipelines failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
