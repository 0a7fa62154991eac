const TICK_MS = 1;

/**
 * Starts `total` calls at `ratePerS`, spread evenly over time (every millisecond, the calls then
 * due; h2load's --rps sends each client's calls in bursts every 10 ms, which measures the burst,
 * not the rate), and resolves once every call has settled. Settled calls are counted, not kept:
 * a list of every call's promise would keep them all alive to the end.
 */
export async function pace(ratePerS: number, total: number, call: (i: number) => Promise<unknown>): Promise<void> {
  if (total <= 0) return;
  let settled = 0;
  let allSettled = (): void => {};
  const done = new Promise<void>((resolve) => (allSettled = resolve));
  const settle = () => {
    if (++settled === total) allSettled();
  };
  const started = performance.now();
  for (let sent = 0; sent < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * ratePerS));
    // then(), not finally(): finally() makes two more promises and closures per call, garbage that
    // the measured process would collect in the middle of the calls it times.
    for (; sent < due; sent++) void call(sent).then(settle, settle);
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
  await done;
}
