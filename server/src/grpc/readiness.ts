import type { HealthImplementation } from 'grpc-health-check';
import { setServing } from './server.js';

/**
 * What the health service reports, from the two things that take a replica out of rotation:
 * shutting down, and an unreachable store while some policy cannot be enforced locally.
 */
export class Readiness {
  private storeAvailable = true;
  private draining = false;

  constructor(
    private readonly health: HealthImplementation,
    /** True when every policy's failure mode is `local`, so an outage changes nothing for callers. */
    private readonly enforcesLocallyOnOutage: () => boolean,
  ) {}

  get serving(): boolean {
    return !this.draining && (this.storeAvailable || this.enforcesLocallyOnOutage());
  }

  storeAvailability(available: boolean): void {
    this.storeAvailable = available;
    this.apply();
  }

  /** Shutting down: NOT_SERVING for good. */
  drain(): void {
    this.draining = true;
    this.apply();
  }

  private apply(): void {
    setServing(this.health, this.serving);
  }
}
