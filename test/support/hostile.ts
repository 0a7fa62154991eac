import fc from 'fast-check';
import { expect } from 'vitest';

/** Header values fetch can send: printable Latin-1, sometimes long. */
export const headerValue = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), maxLength: 60 }),
  fc.constantFrom('alice', '203.0.113.9', '2001:db8::1', '999.1.1.1', '10.0.0.1, 10.0.0.2', '%00', '{u:x}'),
  fc.integer({ min: 257, max: 6_000 }).map((n) => 'u'.repeat(n)),
);

/**
 * One percent-encoded path segment or query value: odd unicode, raw bytes that are not UTF-8
 * (lone surrogates as CESU-8, truncated sequences), NUL, stray '%', and oversized ones.
 */
export const encodedText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 20 }).map(encodeURIComponent),
  fc.uint8Array({ minLength: 1, maxLength: 12 }).map((bytes) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
  fc.constantFrom('%00', '%ED%A0%80', '%ED%BF%BF', '%E0%A4%A', '%', '%zz', '%C0%AF', '..%2f..%2f', '%EF%BF%BE', '%F4%90%80%80', '%u0041'),
  fc.integer({ min: 200, max: 12_000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 100, max: 1_000 }).map((n) => '%F0%9F%92%A9'.repeat(n)),
);

/** JSON bodies of every shape: random JSON, broken JSON, huge numbers, deep nesting, oversized. */
export const jsonText = fc.oneof(
  fc.json(),
  fc.constantFrom('{bad', '[[[[', '"\u0000"', '{"a":1e999999}', '', 'null', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":1}}'),
  fc.integer({ min: 1_000, max: 100_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
  fc.integer({ min: 1_000, max: 5_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
  fc.integer({ min: 100_001, max: 300_000 }).map((n) => `"${'x'.repeat(n)}"`),
);

/** Not a server failure: anything below 500 (a 503 of an unreachable backend is none here). */
export function expectNoServerError(res: { status: number }, text: string, what: string): void {
  expect(res.status, `${what} → ${text.slice(0, 200)}`).toBeLessThan(500);
}

/** The standard error body `{"error":{"code","message","requestId"}}`. */
export function expectStandardErrorBody(text: string, what: string): void {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${what}: error body is not JSON: ${text.slice(0, 200)}`);
  }
  expect(body, what).toMatchObject({ error: { code: expect.any(String), message: expect.any(String), requestId: expect.any(String) } });
}
