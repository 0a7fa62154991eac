import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../server/src/config/env.js';
import { ROOT } from '../support/server-process.js';

const CONFIG_DIR = join(ROOT, 'server/src/config');

/** Every environment variable name the server's config source mentions (quoted UPPER_CASE). */
export function configEnvNames(): Set<string> {
  const names = new Set<string>();
  for (const file of readdirSync(CONFIG_DIR).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(join(CONFIG_DIR, file), 'utf8');
    for (const m of source.matchAll(/['"`]([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{2,})['"`]/g)) names.add(m[1]!);
  }
  return names;
}

/**
 * The ports a configuration listens on beyond its own pod: every numeric field named …Port
 * whose …Host is not a loopback address.
 */
export function configPorts(config: Config): number[] {
  const fields = config as unknown as Record<string, unknown>;
  return Object.entries(fields)
    .filter(([key, value]) => /Port$/.test(key) && typeof value === 'number')
    .filter(([key]) => !['127.0.0.1', '::1', 'localhost'].includes(String(fields[key.replace(/Port$/, 'Host')])))
    .map(([, value]) => value as number)
    .sort((a, b) => a - b);
}
