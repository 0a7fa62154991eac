import { ResponderBuilder, ServerInterceptingCall, type ServerInterceptor } from '@grpc/grpc-js';
import type { RpcObserver } from '../metrics/observers.js';

/**
 * Times every unary call from arrival to its status, for every service on the server (including
 * UNIMPLEMENTED and health checks), labelled by method and status code name. A stream's handler
 * times what the stream carries instead (CheckLimitStream: each check).
 */
export function rpcMetricsInterceptor(observer: RpcObserver): ServerInterceptor {
  return (method, call) => {
    if (method.requestStream) return new ServerInterceptingCall(call);
    // A double, not hrtime's BigInts; the observer turns path and code into labels once per pair.
    const started = performance.now();
    const responder = new ResponderBuilder()
      .withSendStatus((s, next) => {
        observer.rpc(method.path, s.code, (performance.now() - started) / 1000);
        next(s);
      })
      .build();
    return new ServerInterceptingCall(call, responder);
  };
}
