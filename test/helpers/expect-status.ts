import { expect } from 'vitest';

import { VifplugError } from '../../src/client/client';

/** Awaits a call that must fail, and checks its status code and ErrorInfo reason. */
export async function expectStatus(call: Promise<unknown>, code: number, reason: string): Promise<VifplugError> {
  let error: unknown;
  try {
    await call;
  } catch (err) {
    error = err;
  }
  expect(error, `expected the call to fail with code ${code} / ${reason}`).toBeInstanceOf(VifplugError);
  const failure = error as VifplugError;
  expect({ code: failure.code, reason: failure.reason }).toEqual({ code, reason });
  expect(failure.status?.errorInfo?.domain).toBe('vifplug');
  expect(failure.status?.code).toBe(code);
  expect(failure.message.length).toBeGreaterThan(0);
  return failure;
}
