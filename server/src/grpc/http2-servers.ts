import type { Http2Server } from 'node:http2';
import type { Server } from '@grpc/grpc-js';

/**
 * The HTTP/2 servers a bound grpc-js Server listens with, or undefined where grpc-js keeps them
 * differently (an internal field; the HTTP/2 workarounds beside this module check for it and warn).
 */
export function grpcHttp2Servers(server: Server): Http2Server[] | undefined {
  const http2Servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  return http2Servers instanceof Map ? [...(http2Servers as Map<Http2Server, unknown>).keys()] : undefined;
}
