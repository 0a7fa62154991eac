import { createHash, timingSafeEqual } from 'node:crypto';
import { FloodgateError } from '@floodgate/client';
import { status, type Metadata } from '@grpc/grpc-js';

const BEARER = /^Bearer (\S+)$/i;

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * Admin token check. Both sides are hashed first, so the comparison is constant-time whatever
 * the lengths, and every configured token is compared (no early exit). With no token
 * configured the admin API is disabled: every call is UNAUTHENTICATED.
 */
export class AdminAuth {
  private readonly digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.digests = tokens.map(digest);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** Throws UNAUTHENTICATED unless the metadata carries `authorization: Bearer <a configured token>`. */
  verify(metadata: Metadata): void {
    const header = metadata.get('authorization')[0];
    this.verifyHeader(typeof header === 'string' ? header : undefined);
  }

  /** The same check on an `authorization` value (gRPC metadata or an HTTP header); returns the token. */
  verifyHeader(header: string | undefined): string {
    if (!this.enabled) {
      throw new FloodgateError(status.UNAUTHENTICATED, 'admin API disabled: no admin token configured (ADMIN_TOKENS or ADMIN_TOKENS_FILE)');
    }
    const match = header === undefined ? null : BEARER.exec(header.trim());
    if (!match) throw new FloodgateError(status.UNAUTHENTICATED, 'authorization: missing "Bearer <admin token>"');
    const presented = digest(match[1]!);
    let ok = false;
    for (const d of this.digests) ok = timingSafeEqual(d, presented) || ok;
    if (!ok) throw new FloodgateError(status.UNAUTHENTICATED, 'authorization: invalid admin token');
    return match[1]!;
  }
}
