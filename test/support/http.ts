import { expect } from 'vitest';

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body; undefined when it is not JSON. */
  json: any;
}

export interface HttpOptions {
  method?: string;
  token?: string;
  /** A value is sent as JSON; a string is sent as it is. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** One real HTTP request over loopback. */
export async function http(url: string, opts: HttpOptions = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, { method: opts.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** The standard error body with this status and code; the message starts with `field` when given. */
export function expectError(res: HttpResult, status: number, code: string, field?: string): void {
  expect({ status: res.status, code: res.json?.error?.code, body: res.text }).toMatchObject({ status, code });
  expect(Object.keys(res.json)).toEqual(['error']);
  expect(Object.keys(res.json.error).sort()).toEqual(['code', 'message', 'requestId']);
  expect(res.json.error.requestId).toBe(res.headers.get('x-request-id'));
  expect(res.json.error.message).toEqual(expect.any(String));
  if (field !== undefined) expect(res.json.error.message).toMatch(new RegExp(`^${field.replace(/\./g, '\\.')}:`));
}
