import { connect, type ClientHttp2Session } from 'node:http2';
import { grpcUnframe } from './grpc-body.js';

export interface GrpcReply {
  httpStatus: number;
  grpcStatus: number;
  grpcMessage: string;
  /** The response message (unframed); empty when the call failed. */
  message: Uint8Array;
}

/** Posts one prepared gRPC body on a new connection; see grpcRequest. */
export async function postGrpc(address: string, path: string, body: Buffer): Promise<GrpcReply> {
  const session = connect(`http://${address}`);
  try {
    return await grpcRequest(session, path, body);
  } finally {
    session.close();
  }
}

/**
 * One prepared gRPC body sent exactly as h2load sends it (HTTP/2 POST, same headers), reading
 * the grpc-status trailer that h2load cannot report.
 */
export function grpcRequest(session: ClientHttp2Session, path: string, body: Buffer): Promise<GrpcReply> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
    const chunks: Buffer[] = [];
    let httpStatus = 0;
    let trailers: Record<string, unknown> = {};
    req.on('response', (headers) => {
      httpStatus = Number(headers[':status']);
      // A call that fails before any message sends its status in the headers (trailers-only).
      if (headers['grpc-status'] !== undefined) trailers = headers;
    });
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.once('error', reject);
    req.once('end', () => {
      const data = Buffer.concat(chunks);
      resolve({
        httpStatus,
        grpcStatus: Number(trailers['grpc-status'] ?? NaN),
        grpcMessage: decodeURIComponent(String(trailers['grpc-message'] ?? '')),
        message: data.length ? grpcUnframe(data) : new Uint8Array(0),
      });
    });
    req.end(body);
  });
}
