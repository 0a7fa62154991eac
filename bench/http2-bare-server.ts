/**
 * A bare `node:http2` server that answers any request the way a gRPC server answers a unary call
 * (HEADERS, one 7-byte message, then the status), for `npm run bench:gc`. With TRAILERS=1 the
 * status goes in trailers (`waitForTrailers` + `sendTrailers`), as every gRPC response with a
 * message does; with TRAILERS=0 it goes in the first HEADERS frame and the stream ends with the
 * message. With STREAM_TABLES=1 each session gets Floodgate's stream collections
 * (server/src/grpc/stream-table.ts) in place of Node's Map and Set. With trailers, the response
 * options are grpc-js's shared `{ waitForTrailers: true }`, or with COMPLETE_OPTIONS=1 that object
 * with `endStream: false` as Floodgate gives it (server/src/grpc/response-options.ts). Prints its
 * port once listening, as a line the test harness's ServerProcess reads.
 */
import { createServer } from 'node:http2';
import { useStreamTablesIn } from '@floodgate/client/http2';
import { healthServingReply } from './grpc-body.js';

const trailers = process.env.TRAILERS === '1';
const message = healthServingReply();
const responseOptions: { waitForTrailers: true; endStream?: boolean } = { waitForTrailers: true };
if (process.env.COMPLETE_OPTIONS === '1') responseOptions.endStream = false;
const trailersFrame = { 'grpc-status': '0' };

const server = createServer();
if (process.env.STREAM_TABLES === '1') {
  server.on('session', (session) => {
    if (!useStreamTablesIn(session)) throw new Error('this Node lays out HTTP/2 session state differently: stream tables not installed');
  });
}
server.on('stream', (stream) => {
  stream.resume();
  stream.on('end', () => {
    if (trailers) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, responseOptions);
      stream.on('wantTrailers', () => stream.sendTrailers(trailersFrame));
    } else {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' });
    }
    stream.end(message);
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
