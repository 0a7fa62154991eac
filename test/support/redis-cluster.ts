import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, RedisServer } from './redis-server.js';

const run = promisify(execFile);

/** A port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p + 10_000 > 65_535 || taken.has(p) || taken.has(p + 10_000)) continue;
    if (await isFree(p + 10_000)) return p;
  }
}

async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A real 3-master Redis Cluster on loopback (no replicas), built with `redis-cli --cluster create`. */
export class RedisCluster {
  private constructor(private readonly servers: RedisServer[]) {}

  /** `host:port,host:port,host:port`, as REDIS_CLUSTER_NODES takes it. */
  get nodes(): string {
    return this.servers.map((s) => `127.0.0.1:${s.port}`).join(',');
  }

  static async start(): Promise<RedisCluster> {
    const taken = new Set<number>();
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await clusterPort(taken);
      taken.add(p).add(p + 10_000);
      ports.push(p);
    }
    const servers = await Promise.all(
      ports.map((p) => RedisServer.start(p, ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'])),
    );
    const cluster = new RedisCluster(servers);
    try {
      await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
        timeout: 30_000,
      });
      await cluster.waitOk();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** SIGKILLs one master: with no replicas, the cluster soon stops taking commands (CLUSTERDOWN). */
  async killNode(i: number): Promise<void> {
    await this.servers[i]!.kill();
  }

  /** Brings a killed node back with its nodes.conf and waits until the cluster is ok again. */
  async restartNode(i: number): Promise<void> {
    this.servers[i] = await this.servers[i]!.restart();
    await this.waitOk(30_000);
  }

  /**
   * Until every node says cluster_state:ok and all of them map the slots alike (gossip settled):
   * a client that loads its slot map from a node whose view lags is redirected (MOVED), and
   * ioredis re-sends a redirected command by itself, behind commands sent after it.
   */
  async waitOk(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const clients = this.servers.map((s) => new Redis({ port: s.port, host: '127.0.0.1' }));
    try {
      for (;;) {
        const infos = await Promise.all(clients.map((c) => c.cluster('INFO')));
        const maps = await Promise.all(clients.map(async (c) => JSON.stringify(slotOwners(await c.cluster('SLOTS')))));
        if (infos.every((i) => /cluster_state:ok/.test(i)) && maps.every((m) => m === maps[0])) return;
        if (Date.now() > deadline) throw new Error(`redis cluster on ${this.nodes} did not become ready`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      for (const c of clients) c.disconnect();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }
}

/** CLUSTER SLOTS as [first slot, last slot, owner's port], sorted. */
function slotOwners(reply: unknown): Array<[number, number, number]> {
  return (reply as Array<[number, number, [string, number]]>).map(([from, to, [, port]]): [number, number, number] => [from, to, port]).sort((a, b) => a[0] - b[0]);
}
