// Loaded into a server process only when measuring it (node --import): every interval, a full GC,
// then one JSON line with the heap that survived it.
const every = Number(process.env.HEAP_REPORT_MS ?? 1000);
setInterval(() => {
  globalThis.gc?.();
  const { heapUsed, rss } = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ heapReport: { heapUsed, rss } })}\n`);
}, every).unref();
