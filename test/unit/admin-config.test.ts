import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { AdminAuth } from '../../server/src/admin/admin-auth.js';
import { ConfigError, loadConfig } from '../../server/src/config/env.js';

function bearer(value: string | undefined): Metadata {
  const md = new Metadata();
  if (value !== undefined) md.set('authorization', value);
  return md;
}

describe('admin tokens', () => {
  it('come from ADMIN_TOKENS, comma-separated; none configured means none', () => {
    expect(loadConfig({ ADMIN_TOKENS: ' a1 , b2,,' }).adminTokens).toEqual(['a1', 'b2']);
    expect(loadConfig({}).adminTokens).toEqual([]);
    expect(() => loadConfig({ ADMIN_TOKENS: 'has space' })).toThrow(ConfigError);
  });

  it('accept exactly a configured token, as a Bearer authorization', () => {
    const auth = new AdminAuth(['s3cret', 'other']);
    expect(() => auth.verify(bearer('Bearer s3cret'))).not.toThrow();
    expect(() => auth.verify(bearer('bearer other'))).not.toThrow();
    for (const bad of [undefined, 's3cret', 'Bearer', 'Bearer s3cre', 'Bearer s3cret1', 'Basic s3cret', 'Bearer S3CRET']) {
      expect(() => auth.verify(bearer(bad)), String(bad)).toThrow(/^authorization: /);
    }
  });

  it('reject every call when none is configured', () => {
    const auth = new AdminAuth([]);
    expect(auth.enabled).toBe(false);
    expect(() => auth.verify(bearer('Bearer anything'))).toThrow(/admin API disabled/);
  });
});
