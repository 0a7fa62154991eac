import { ResponderBuilder, ServerInterceptingCall, status, type ServerInterceptor } from '@grpc/grpc-js';
import type { RpcObserver } from '../metrics/observers.js';

/**
 * Times every call from arrival to its status, for every service on the server (including
 * UNIMPLEMENTED and health checks), labelled by method and status code name.
 */
export function rpcMetricsInterceptor(observer: RpcObserver): ServerInterceptor {
  return (method, call) => {
    const started = process.hrtime.bigint();
    const name = method.path.replace(/^\//, '');
    const responder = new ResponderBuilder()
      .withSendStatus((s, next) => {
        observer.rpc(name, status[s.code] ?? 'UNKNOWN', Number(process.hrtime.bigint() - started) / 1e9);
        next(s);
      })
      .build();
    return new ServerInterceptingCall(call, responder);
  };
}
