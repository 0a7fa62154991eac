import type { LoadResult } from './stats.js';

/** A load result with what it cost, per call. */
export interface Measured extends LoadResult {
  /** Redis script calls (EVALSHA + EVAL) per call. */
  scriptsPerCall: number;
  /**
   * Keys answered OK but not decided by Redis: the server's failover store fell back to its
   * failure modes (degraded) because Redis calls missed their deadline under the load.
   */
  undecided: number;
  /** CPU of the process deciding (the server; the bench process for an in-process limiter), µs per call. */
  serverCpuUs: number;
  redisCpuUs: number;
  /** h2load streams per client of the best run. */
  streams?: number;
}

export interface Row {
  name: string;
  /** Undefined when the scenario could not run (see `pending`). */
  result: (LoadResult & Partial<Measured>) | undefined;
  decisionsPerCall: number;
  pending?: string;
}

export interface Target {
  name: string;
  value: number;
  goal: number;
  unit: string;
  /** The value must not exceed the goal (latency); otherwise it must reach it. */
  atMost?: boolean;
  /** The value must equal the goal. */
  exact?: boolean;
}

export function met(t: Target): boolean {
  if (t.exact) return t.value === t.goal;
  return t.atMost ? t.value <= t.goal : t.value >= t.goal;
}

/** The run as Markdown: one table of scenarios (ratios against the first row), targets, memory. */
export function formatReport(r: {
  machine: Record<string, string | number>;
  mode: string;
  clients: number;
  rows: Row[];
  targets: Target[];
  /** Lines printed under the targets. */
  notes: string[];
  memory: string;
}): string {
  const ceiling = r.rows[0]!.result!.callsPerS;
  const lines = [
    `Machine: ${Object.entries(r.machine).map(([k, v]) => `${k} ${v}`).join('; ')}. Mode: ${r.mode}; h2load with ${r.clients} clients.`,
    '',
    '| Scenario | calls/s | decisions/s | p50 ms | p99 ms | calls/s ÷ ceiling | limiter CPU µs/call | Redis CPU µs/call | streams/client |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.rows.map(({ name, result, decisionsPerCall, pending }) =>
      result
        ? `| ${name} | ${result.callsPerS.toFixed(0)} | ${decisionsPerCall ? (result.callsPerS * decisionsPerCall).toFixed(0) : '–'} | ${result.p50Ms.toFixed(2)} | ${result.p99Ms.toFixed(2)} | ${(result.callsPerS / ceiling).toFixed(2)} | ${opt(result.serverCpuUs)} | ${opt(result.redisCpuUs)} | ${result.streams ?? '–'} |`
        : `| ${name} | ${pending ?? 'not measured'} | | | | | | | |`,
    ),
    '',
    '| Target | measured | goal | |',
    '| --- | ---: | ---: | --- |',
    ...r.targets.map((t) => `| ${t.name} | ${fmt(t.value)}${t.unit} | ${t.exact ? '=' : t.atMost ? '≤' : '≥'} ${fmt(t.goal)}${t.unit} | ${met(t) ? 'met' : 'MISSED'} |`),
    '',
    ...r.notes.flatMap((n) => [n, '']),
    `Redis memory per active user: ${r.memory}.`,
  ];
  return lines.join('\n');
}

function opt(n: number | undefined): string {
  return n === undefined || Number.isNaN(n) ? '–' : n.toFixed(0);
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}
