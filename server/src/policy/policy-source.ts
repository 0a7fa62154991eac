import type { Policy } from './policy.js';

/** Where the limiter reads policies from; a file source swaps its set on reload. */
export interface PolicySource {
  get(name: string): Policy | undefined;
  list(): readonly Policy[];
}

/** A fixed set of policies. */
export class StaticPolicySource implements PolicySource {
  private readonly byName: ReadonlyMap<string, Policy>;

  constructor(private readonly policies: readonly Policy[]) {
    this.byName = new Map(policies.map((p) => [p.name, p]));
  }

  get(name: string): Policy | undefined {
    return this.byName.get(name);
  }

  list(): readonly Policy[] {
    return this.policies;
  }
}
