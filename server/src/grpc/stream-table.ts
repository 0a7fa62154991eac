import type { Http2Server, Http2Session } from 'node:http2';
import type { Server } from '@grpc/grpc-js';
import type { Logger } from '../log.js';

/**
 * Node's HTTP/2 keeps each session's open streams in a Map and its streams not yet opened in a
 * Set, and adds and removes a stream in both for every call, so both are rebuilt every few calls.
 * V8 links each replaced Map or Set table to its successor (for live iterators) and leaves the
 * streams it held in it. Once one table of a session has been promoted to the old generation,
 * that dead table keeps its successor alive through the next scavenge, which promotes it, with
 * the streams it holds and everything they point to, and so on for the life of the connection:
 * megabytes promoted at every scavenge and a full collection every second or two, which is the
 * paced p99 tail docs/benchmarks.md describes. The two classes below hold the same entries in
 * storage that is resized by copying, with no link from old to new, so a dead old copy holds
 * nothing newer than itself.
 */

/** Open streams by id: integer keys of a plain object, which V8 keeps in a number dictionary. */
export class StreamTable<V> {
  private readonly byId: Record<number, V> = Object.create(null) as Record<number, V>;
  size = 0;

  get(id: number): V | undefined {
    return this.byId[id];
  }

  set(id: number, value: V): this {
    if (this.byId[id] === undefined) this.size++;
    this.byId[id] = value;
    return this;
  }

  delete(id: number): boolean {
    if (this.byId[id] === undefined) return false;
    delete this.byId[id];
    this.size--;
    return true;
  }

  /** Entries deleted by `fn` before they are reached are skipped, as with Map. */
  forEach(fn: (value: V, id: number, table: this) => void): void {
    for (const key in this.byId) {
      const value = this.byId[key];
      if (value !== undefined) fn(value, Number(key), this);
    }
  }
}

/**
 * Streams not yet opened: a server stream is one only inside its constructor, so an array
 * searched in order.
 */
export class PendingStreams<T> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  has(item: T): boolean {
    return this.items.includes(item);
  }

  add(item: T): this {
    if (!this.items.includes(item)) this.items.push(item);
    return this;
  }

  delete(item: T): boolean {
    const i = this.items.indexOf(item);
    if (i < 0) return false;
    this.items.splice(i, 1);
    return true;
  }

  /** Items deleted by `fn` before they are reached are skipped, as with Set. */
  forEach(fn: (item: T, again: T, set: this) => void): void {
    for (const item of [...this.items]) if (this.items.includes(item)) fn(item, item, this);
  }
}

/** The internal state object Node 20 gives each session, with its `streams` Map and `pendingStreams` Set. */
interface SessionState {
  streams?: unknown;
  pendingStreams?: unknown;
}

function sessionState(session: Http2Session): SessionState | undefined {
  const symbol = Object.getOwnPropertySymbols(session).find((s) => s.description === 'state');
  const state: unknown = symbol ? (session as unknown as Record<symbol, unknown>)[symbol] : undefined;
  return typeof state === 'object' && state !== null ? (state as SessionState) : undefined;
}

/** Node's own Map or Set (primordials subclasses, not `instanceof` either), still empty. */
function isEmptyCollection(c: unknown, methods: readonly string[]): boolean {
  const m = c as Record<string, unknown> | null;
  return typeof m === 'object' && m !== null && m.size === 0 && methods.every((name) => typeof m[name] === 'function');
}

export interface StreamTableUse {
  /** grpc-js's HTTP/2 servers found: 0 where its internals have changed. */
  servers: number;
  /** Sessions accepted since install. */
  sessions: number;
  /** Of those, sessions whose stream Map and Set were replaced: all of them on a Node with the known layout. */
  replaced: number;
}

/**
 * Gives a new session a StreamTable and PendingStreams in place of Node's Map and Set. False,
 * leaving the session as it was, where Node's per-session state is not laid out as expected.
 */
export function useStreamTablesIn(session: Http2Session): boolean {
  const state = sessionState(session);
  if (!state || !isEmptyCollection(state.streams, ['get', 'set', 'delete', 'forEach']) || !isEmptyCollection(state.pendingStreams, ['add', 'delete', 'forEach'])) return false;
  state.streams = new StreamTable();
  state.pendingStreams = new PendingStreams();
  return true;
}

/**
 * Gives every HTTP/2 session the gRPC server accepts a StreamTable and PendingStreams. Relies on
 * two internals, checked at run time and by a test: grpc-js's list of its HTTP/2 servers, and
 * Node's per-session state; where either is missing, sessions keep their Map and Set, `replaced`
 * stays below `sessions` (or `servers` is 0) and a warning is logged. Call after the server is bound.
 */
export function useStreamTables(server: Server, log: Logger): StreamTableUse {
  const use: StreamTableUse = { servers: 0, sessions: 0, replaced: 0 };
  const http2Servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  const warning = 'HTTP/2 sessions keep Node\'s stream Map and Set: expect long garbage collection pauses under load';
  if (!(http2Servers instanceof Map)) {
    log.warn({ reason: 'no HTTP/2 server found in grpc-js' }, warning);
    return use;
  }
  for (const http2Server of (http2Servers as Map<Http2Server, unknown>).keys()) {
    use.servers++;
    http2Server.on('session', (session: Http2Session) => {
      use.sessions++;
      if (useStreamTablesIn(session)) use.replaced++;
      else if (use.sessions - use.replaced === 1) log.warn({ reason: 'unknown HTTP/2 session layout' }, warning);
    });
  }
  return use;
}
