import { scopeToJSON, type Scope } from './gen/floodgate/v1/ratelimit.js';

/** A scope as JSON answers name it ("user", "ip"), as policy files do, rather than the enum's SCOPE_USER. */
export function scopeName(scope: Scope): string {
  return scopeToJSON(scope).replace(/^SCOPE_/, '').toLowerCase();
}
