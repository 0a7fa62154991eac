import type { Http2Session } from 'node:http2';
import { useStreamTablesIn } from '@floodgate/client/http2';
import type { Server } from '@grpc/grpc-js';
import type { Logger } from '../log.js';
import { grpcHttp2Servers } from './http2-servers.js';

export interface StreamTableUse {
  /** grpc-js's HTTP/2 servers found: 0 where its internals have changed. */
  servers: number;
  /** Sessions accepted since install. */
  sessions: number;
  /** Of those, sessions whose stream Map and Set were replaced: all of them on a Node with the known layout. */
  replaced: number;
}

/**
 * Gives every HTTP/2 session the gRPC server accepts the SDK's stream collections in place of
 * Node's per-session Map and Set, which under steady load promote every call (see
 * client-sdk/src/http2-collections.ts). Relies on two internals, checked at run time and by a
 * test: grpc-js's list of its HTTP/2 servers, and Node's per-session state; where either is
 * missing, sessions keep their Map and Set, `replaced` stays below `sessions` (or `servers` is 0)
 * and a warning is logged. Call after the server is bound.
 */
export function useStreamTables(server: Server, log: Logger): StreamTableUse {
  const use: StreamTableUse = { servers: 0, sessions: 0, replaced: 0 };
  const http2Servers = grpcHttp2Servers(server);
  const warning = 'HTTP/2 sessions keep Node\'s stream Map and Set: expect long garbage collection pauses under load';
  if (!http2Servers) {
    log.warn({ reason: 'no HTTP/2 server found in grpc-js' }, warning);
    return use;
  }
  for (const http2Server of http2Servers) {
    use.servers++;
    http2Server.on('session', (session: Http2Session) => {
      use.sessions++;
      if (useStreamTablesIn(session)) use.replaced++;
      else if (use.sessions - use.replaced === 1) log.warn({ reason: 'unknown HTTP/2 session layout' }, warning);
    });
  }
  return use;
}
