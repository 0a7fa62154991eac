/** The command line's `index`-th word as a positive integer, `def` when absent. */
export function positiveArg(index: number, name: string, def: number): number {
  const raw = process.argv[index];
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name}: expected a positive integer, got "${raw}"`);
  return n;
}
