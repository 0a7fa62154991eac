/**
 * `p`, or a rejection with `error()` if it has not settled within `ms` (p itself keeps running).
 * One promise and one timer: it wraps every Redis call on the hot path, where Promise.race plus
 * finally cost three more promises per call.
 */
export function withDeadline<T>(p: Promise<T>, ms: number, error: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(error()), ms);
    p.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
