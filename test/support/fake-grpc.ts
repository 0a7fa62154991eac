import { CheckLimitStreamResponse, type CheckLimitResponse, type CheckLimitStreamRequest, type DeepPartial } from '@floodgate/client';
import { Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';

/** A real grpc-js server on a free loopback port with the given services and handlers, for client tests. */
export async function fakeGrpcServer(services: Array<[definition: object, handlers: object]>): Promise<{ address: string; close(): void }> {
  const server = new Server();
  for (const [definition, handlers] of services) server.addService(definition as ServiceDefinition, handlers as never);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { address: `127.0.0.1:${port}`, close: () => server.forceShutdown() };
}

/** The answer to every check of a CheckLimitStream message: `response`, under each check's id. */
export function answerAll(m: CheckLimitStreamRequest, response: DeepPartial<CheckLimitResponse>): CheckLimitStreamResponse {
  return CheckLimitStreamResponse.fromPartial({ decisions: m.checks.map((c) => ({ id: c.id, response })) });
}
