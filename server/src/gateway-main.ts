#!/usr/bin/env node
import { allowlistFrom, loadStandaloneGatewayConfig } from './config/env.js';
import { startGateway } from './gateway/app.js';
import { cannotListen, createLogger, routeOtherOutput } from './log.js';
import { GatewayMetrics } from './metrics/metrics.js';

/** The admin gateway alone, talking to a Floodgate server at FLOODGATE_GRPC_ADDRESS. */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadStandaloneGatewayConfig>;
  let adminAllowlist: ReturnType<typeof allowlistFrom>;
  try {
    config = loadStandaloneGatewayConfig();
    adminAllowlist = allowlistFrom('ADMIN_IP_ALLOWLIST', config.adminIpAllowlist);
  } catch (err) {
    process.stderr.write(`floodgate-gateway: invalid configuration: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const log = createLogger(config.logLevel);
  routeOtherOutput(log);
  // Signals are handled from before the ready line ("HTTP listening") on.
  let gateway: Awaited<ReturnType<typeof startGateway>> | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await gateway?.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  gateway = await startGateway({ config, grpcAddress: config.grpcAddress, adminIpAllowlist: adminAllowlist, metrics: new GatewayMetrics(), log }).catch(
    cannotListen(log, 'HTTP_HOST/HTTP_PORT', config.httpHost, config.httpPort),
  );
  log.info({ grpcAddress: config.grpcAddress }, `gateway talking to Floodgate at ${config.grpcAddress}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`floodgate-gateway: fatal: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
