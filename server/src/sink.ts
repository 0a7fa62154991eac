/**
 * Told the result of an operation: one of its methods, once. Used on every check's path instead
 * of a promise: each promise layer between Redis's reply and a check's answer was a promise, a
 * reaction, a closure and a microtask, about 200 bytes of garbage per check. A sink must not throw
 * (it may be told in a loop over many results).
 */
export interface Sink<T> {
  done(value: T): void;
  failed(err: unknown): void;
}

/** Tells `sink` the value, or the promise's result once it settles. */
export function tell<T>(value: T | Promise<T>, sink: Sink<T>): void {
  if (!(value instanceof Promise)) return sink.done(value);
  value.then(
    (v) => sink.done(v),
    (err: unknown) => sink.failed(err),
  );
}

/**
 * A sink that hands on to another what `produce` makes of its value (a value, a promise of one,
 * or the error it throws); a failure is handed on as it is.
 */
export abstract class Relay<In, Out> implements Sink<In> {
  constructor(protected readonly sink: Sink<Out>) {}

  protected abstract produce(value: In): Out | Promise<Out>;

  done(value: In): void {
    let out: Out | Promise<Out>;
    try {
      out = this.produce(value);
    } catch (err) {
      return this.sink.failed(err);
    }
    tell(out, this.sink);
  }

  failed(err: unknown): void {
    this.sink.failed(err);
  }
}

/** What `start` tells its sink, as a promise: for paths where a promise per call costs nothing that matters. */
export function promised<T>(start: (sink: Sink<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => start({ done: resolve, failed: reject }));
}
