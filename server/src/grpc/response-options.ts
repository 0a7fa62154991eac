import type { OutgoingHttpHeaders, ServerHttp2Stream, ServerStreamResponseOptions } from 'node:http2';
import type { Server } from '@grpc/grpc-js';
import type { Logger } from '../log.js';
import { grpcHttp2Servers } from './http2-servers.js';

/**
 * - `watching`: no response with trailers yet;
 * - `verifying`: the first one's options were given `endStream` and `sendDate` (where they lacked
 *   them), waiting for a second response to show they are shared;
 * - `completed`: the second response passed the same object: every later response's copy in
 *   Node keeps one hidden class;
 * - `unneeded`: grpc-js's options already have both;
 * - `per-call`: grpc-js passes a new object per response, so completing one changes nothing
 *   (logged as a warning);
 * - `unavailable`: grpc-js's HTTP/2 servers were not found, or its options cannot be changed
 *   (logged as a warning).
 */
export type ResponseOptionsState = 'watching' | 'verifying' | 'completed' | 'unneeded' | 'per-call' | 'unavailable';

export interface ResponseOptionsUse {
  state: ResponseOptionsState;
}

const WARNING = 'grpc-js response options left as they are: expect a new hidden class and a Date header per call, and more garbage collection';

type Respond = (headers?: OutgoingHttpHeaders, options?: ServerStreamResponseOptions) => void;

/** `sendDate` is read by `respond()` and passed by Node's own compatibility layer, though not in the core API's types. */
type ResponseOptions = ServerStreamResponseOptions & { sendDate?: boolean };

/**
 * Gives grpc-js's response options `endStream: false` (which Node reads as its absence) and
 * `sendDate: false`, once.
 *
 * Node's `ServerHttp2Stream.respond()` copies its options (`{ ...options }`) and then sets
 * `endStream` on the copy. grpc-js passes one shared `{ waitForTrailers: true }` with every
 * response, and V8 (11.3, in Node 20) gives each copy of a one-field object a hidden class of its
 * own once a field is added: a new map in the old generation on every call, whose descriptor
 * array the next young-generation collection promotes. With `endStream` already there the copy's
 * store is to an existing field and the class is shared (docs/benchmarks.md: about half of what a
 * server promotes at 6,500 calls/s, and fewer full collections).
 *
 * Node also adds a Date header to every response unless `sendDate` is false (an option its
 * compatibility layer passes; test/integration/response-options.test.ts checks the header is
 * gone). gRPC does not use one (the servers of grpc-go and gRPC C-core send none), and adding it
 * to the headers Node builds was about 4% of a unary call's server CPU.
 *
 * The object is internal to grpc-js, so it is taken from the first response that passes it: until
 * then each new stream gets a `respond` of its own that looks at its options and removes itself.
 * Call after the server is bound.
 */
export function completeResponseOptions(server: Server, log: Logger): ResponseOptionsUse {
  const use: ResponseOptionsUse = { state: 'watching' };
  const http2Servers = grpcHttp2Servers(server);
  if (!http2Servers) {
    use.state = 'unavailable';
    log.warn({ reason: 'no HTTP/2 server found in grpc-js' }, WARNING);
    return use;
  }
  let completed: ResponseOptions | undefined;
  const decide = (options: ResponseOptions): void => {
    let next: ResponseOptionsState;
    if (use.state === 'verifying') next = options === completed ? 'completed' : 'per-call';
    else if ('endStream' in options && 'sendDate' in options) next = 'unneeded';
    else if (!Object.isExtensible(options)) next = 'unavailable';
    else {
      // Values grpc-js may one day set itself are left as they are.
      options.endStream ??= false;
      options.sendDate ??= false;
      completed = options;
      next = 'verifying';
    }
    use.state = next;
    if (next === 'verifying') return;
    if (next === 'per-call' || next === 'unavailable') log.warn({ reason: `grpc-js response options ${next === 'per-call' ? 'made per call' : 'not extensible'}` }, WARNING);
    for (const http2Server of http2Servers) http2Server.off('stream', watch);
  };
  function watch(stream: ServerHttp2Stream): void {
    const own = stream as ServerHttp2Stream & { respond: Respond };
    const respond: Respond = own.respond;
    own.respond = function (this: ServerHttp2Stream, headers, options) {
      delete (this as Partial<typeof own>).respond;
      // Trailers-only responses (a status and no message) pass options of their own.
      if (options?.waitForTrailers === true && (use.state === 'watching' || use.state === 'verifying')) decide(options);
      respond.call(this, headers, options);
    };
  }
  for (const http2Server of http2Servers) http2Server.on('stream', watch);
  return use;
}
