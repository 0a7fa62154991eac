import { AsyncResource } from 'node:async_hooks';
import type * as Http2 from 'node:http2';
import { createRequire } from 'node:module';
import { ArraySet, isEmptyCollection, useStreamTablesIn } from './http2-collections.js';

export { ArraySet, StreamTable, useStreamTablesIn } from './http2-collections.js';

const require = createRequire(import.meta.url);

/** What installHttp2GcFixes could install, and what it has changed since. */
export interface Http2GcFixes {
  /** Per fix: installed on this Node and grpc-js, or left as it was (their internals differ). */
  installed: { asyncResourceBind: boolean; sessionTables: boolean; transportCallSets: boolean };
  /** HTTP/2 client sessions opened since, and how many of them got stream tables. */
  sessions: number;
  sessionsWithTables: number;
  /** grpc-js transports connected since, and how many of them got an array-backed call set. */
  transports: number;
  transportsWithCallSets: number;
}

let fixes: Http2GcFixes | undefined;

/**
 * Stops every gRPC call a Node 20 process makes (through this SDK or any grpc-js client) from
 * being promoted to the old generation, which under a steady rate of calls costs an app server
 * a full garbage collection every second or so and a third more CPU per call
 * (docs/client-sdk.md has the numbers). Three things each keep every call alive past young
 * collections, and all three must go:
 *
 * - Node's `ClientHttp2Session.request()` binds each request to an AsyncResource, whose `bind`
 *   defines `asyncResource` on the bound function as a getter and setter of its own. V8
 *   allocates every accessor pair in the old generation, so each request's pair points from there
 *   at its young getter, whose scope holds the bound request. Replaced by a `bind` with the same
 *   behaviour whose `asyncResource` is a plain writable property.
 * - Each HTTP/2 session's stream Map and Set (see http2-collections.ts): client sessions opened
 *   through `http2.connect` (as grpc-js opens them) get stream tables.
 * - grpc-js's per-transport Set of active calls: new transports get an ArraySet.
 *
 * Process-wide and opt-in: it changes a Node prototype and a grpc-js one for the whole process,
 * so an application calls it once, at start-up, if it wants it. Idempotent; returns the same
 * live counters on every call.
 */
export function installHttp2GcFixes(): Http2GcFixes {
  if (fixes) return fixes;
  const f: Http2GcFixes = {
    installed: { asyncResourceBind: false, sessionTables: false, transportCallSets: false },
    sessions: 0,
    sessionsWithTables: 0,
    transports: 0,
    transportsWithCallSets: 0,
  };
  f.installed.asyncResourceBind = fixAsyncResourceBind();
  f.installed.sessionTables = fixClientSessions(f);
  f.installed.transportCallSets = fixGrpcTransports(f);
  fixes = f;
  return f;
}

type Bind = AsyncResource['bind'];

function fixAsyncResourceBind(): boolean {
  const original = AsyncResource.prototype.bind;
  if (typeof original !== 'function') return false;
  AsyncResource.prototype.bind = function bind(this: AsyncResource, fn: (...args: unknown[]) => unknown, thisArg?: unknown) {
    // Node's own validation and error for anything that is not a function.
    if (typeof fn !== 'function') return (original as (...a: unknown[]) => unknown).call(this, fn, thisArg);
    const resource = this;
    const bound =
      thisArg === undefined
        ? function (this: unknown, ...args: unknown[]) {
            return resource.runInAsyncScope(fn, this, ...args);
          }
        : function (...args: unknown[]) {
            return resource.runInAsyncScope(fn, thisArg, ...args);
          };
    Object.defineProperty(bound, 'length', { configurable: true, enumerable: false, writable: false, value: fn.length });
    Object.defineProperty(bound, 'asyncResource', { configurable: true, enumerable: true, writable: true, value: resource });
    return bound;
  } as Bind;
  return true;
}

function fixClientSessions(f: Http2GcFixes): boolean {
  // The CommonJS module object, whose `connect` grpc-js calls.
  const http2 = require('node:http2') as typeof Http2;
  const connect = http2.connect;
  if (typeof connect !== 'function') return false;
  http2.connect = function (this: unknown, ...args: unknown[]) {
    const session = (connect as (...a: unknown[]) => Http2.ClientHttp2Session).apply(this, args);
    f.sessions++;
    if (useStreamTablesIn(session)) f.sessionsWithTables++;
    return session;
  } as typeof connect;
  return true;
}

interface Connector {
  prototype: { connect?: (...args: unknown[]) => Promise<unknown> };
}

function fixGrpcTransports(f: Http2GcFixes): boolean {
  let connector: Connector | undefined;
  try {
    // The grpc-js this SDK uses; not part of its public API, hence the checks.
    connector = (require('@grpc/grpc-js/build/src/transport.js') as { Http2SubchannelConnector?: Connector }).Http2SubchannelConnector;
  } catch {
    return false;
  }
  const connect = connector?.prototype.connect;
  if (!connector || typeof connect !== 'function') return false;
  connector.prototype.connect = function (this: unknown, ...args: unknown[]) {
    return connect.apply(this, args).then((transport) => {
      f.transports++;
      const t = transport as { activeCalls?: unknown } | null;
      if (t && isEmptyCollection(t.activeCalls, ['add', 'delete', 'has'])) {
        t.activeCalls = new ArraySet();
        f.transportsWithCallSets++;
      }
      return transport;
    });
  };
  return true;
}
