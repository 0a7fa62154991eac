import { createClient, FloodgateError, type FloodgateClient } from '@floodgate/client';
import type { ServiceDefinition } from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';

/** What the gateway needs from Floodgate: a client that speaks for a caller, and its health. */
export interface GatewayBackend {
  /** A client whose admin calls carry `token` (already checked by the gateway). */
  client(token: string): FloodgateClient;
  /** grpc.health.v1 status of the whole server ("SERVING", "NOT_SERVING", …). */
  health(): Promise<string>;
  close(): void;
}

const HEALTH_CHECK = (healthService as ServiceDefinition).Check!;

/**
 * Floodgate over gRPC through the client SDK. One channel per token: the caller's token goes on
 * to the gRPC server, which decides on its own; tokens were checked against ADMIN_TOKENS first,
 * so there are never more channels than configured tokens (plus one for health).
 */
export class GrpcBackend implements GatewayBackend {
  private readonly clients = new Map<string, FloodgateClient>();

  constructor(
    private readonly address: string,
    private readonly deadlineMs: number,
  ) {}

  client(token: string): FloodgateClient {
    let client = this.clients.get(token);
    if (!client) {
      client = createClient({
        address: this.address,
        token,
        deadlineMs: this.deadlineMs,
        // Each such failure is answered 503 and logged with its request id by the gateway's error
        // handler; the SDK's default process warning would be an unstructured duplicate.
        onUnavailableEvent: () => {},
      });
      this.clients.set(token, client);
    }
    return client;
  }

  health(): Promise<string> {
    return new Promise((resolve, reject) =>
      this.client('').channel.makeUnaryRequest(
        HEALTH_CHECK.path,
        (req: object) => HEALTH_CHECK.requestSerialize(req),
        (buf: Buffer) => HEALTH_CHECK.responseDeserialize(buf) as { status: string },
        { service: '' },
        { deadline: Date.now() + this.deadlineMs },
        (err, res) => (err ? reject(FloodgateError.from(err)) : resolve(res!.status)),
      ),
    );
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
