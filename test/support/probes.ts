import { createRequire } from 'node:module';
import { credentials, loadPackageDefinition, makeGenericClientConstructor, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';

const HealthClient = makeGenericClientConstructor(healthService as never, 'grpc.health.v1.Health') as ServiceClientConstructor;

/** grpc.health.v1 Check, as a kubelet or grpc_health_probe would call it. */
export async function healthStatus(address: string, service = '', deadlineMs = 2_000): Promise<string> {
  const client = new HealthClient(address, credentials.createInsecure());
  try {
    return await new Promise<string>((resolve, reject) =>
      client.check({ service }, { deadline: Date.now() + deadlineMs }, (err: Error | null, res: { status: string }) =>
        err ? reject(err) : resolve(res.status),
      ),
    );
  } finally {
    client.close();
  }
}

/** The services a reflection client (grpcurl) sees. */
export async function reflectedServices(address: string): Promise<string[]> {
  const require = createRequire(import.meta.url);
  const proto = require.resolve('@grpc/reflection/build/proto/grpc/reflection/v1alpha/reflection.proto');
  const def = loadPackageDefinition(loadSync(proto)) as any;
  const client = new def.grpc.reflection.v1alpha.ServerReflection(address, credentials.createInsecure());
  try {
    return await new Promise<string[]>((resolve, reject) => {
      const call = client.ServerReflectionInfo();
      call.on('data', (msg: any) => {
        resolve(msg.listServicesResponse.service.map((s: { name: string }) => s.name));
        call.end();
      });
      call.on('error', reject);
      call.write({ listServices: '*' });
    });
  } finally {
    client.close();
  }
}
