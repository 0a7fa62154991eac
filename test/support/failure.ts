import { FloodgateError } from '@floodgate/client';
import { expect } from 'vitest';

/** The FloodgateError a call rejects with; fails the test when it succeeds. */
export async function failure(p: Promise<unknown>): Promise<FloodgateError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the call should have failed').toBeInstanceOf(FloodgateError);
  return err as FloodgateError;
}
