import type { Http2Session } from 'node:http2';

/**
 * Collections that Node's HTTP/2 layer and grpc-js add to and remove from on every call, with
 * the interface of the Map or Set they replace but storage that is resized by copying.
 *
 * V8 rebuilds a Map's or Set's hash table every few deletions and links each replaced table to
 * its successor (for live iterators), with the entries it held. Once one table has been promoted
 * to the old generation, that dead table keeps its young successor alive through the next
 * scavenge, which promotes it with every call it holds and everything they point to, and so on
 * until a full collection: megabytes promoted at every scavenge and a full collection every
 * second or two (docs/benchmarks.md). A dead old copy of the storage here holds nothing newer
 * than itself.
 */

/**
 * Entries by integer id (a session's open streams, a check stream's checks in flight): integer
 * keys of a plain object, which V8 keeps in a number dictionary.
 */
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
 * A Set of the few items in flight at once (streams not yet opened, a transport's calls): an
 * array searched in order.
 */
export class ArraySet<T> {
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

  /** Items deleted before they are reached are skipped, as with Set; items added meanwhile are not visited. */
  *[Symbol.iterator](): Iterator<T> {
    for (const item of [...this.items]) if (this.items.includes(item)) yield item;
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
export function isEmptyCollection(c: unknown, methods: readonly string[]): boolean {
  const m = c as Record<string, unknown> | null;
  return typeof m === 'object' && m !== null && m.size === 0 && methods.every((name) => typeof m[name] === 'function');
}

/**
 * Gives a new session (server or client) a StreamTable and an ArraySet in place of Node's Map
 * and Set. False, leaving the session as it was, where Node's per-session state is not laid out
 * as expected or already holds streams.
 */
export function useStreamTablesIn(session: Http2Session): boolean {
  const state = sessionState(session);
  if (!state || !isEmptyCollection(state.streams, ['get', 'set', 'delete', 'forEach']) || !isEmptyCollection(state.pendingStreams, ['add', 'delete', 'forEach'])) return false;
  state.streams = new StreamTable();
  state.pendingStreams = new ArraySet();
  return true;
}
