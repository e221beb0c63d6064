import type { Quality } from '../types.js';

/** The part of a node-opcua StatusCode this mapping needs (a plain object in tests). */
export interface StatusLike {
  readonly value: number;
  readonly name: string;
}

/** Shared: nearly every notification is plain Good, and one object each was garbage. */
const PLAIN_GOOD: Readonly<{ quality: Quality }> = Object.freeze({ quality: 'good' });

/**
 * OPC UA's StatusCode severity (top two bits: 00 good, 01 uncertain, 10/11 bad) as our quality.
 * Anything not plain Good carries the code's name as the reason (`UncertainLastUsableValue`,
 * `BadSensorFailure`), so a dashboard can say why without an OPC UA reference at hand.
 */
export function qualityOf(status: StatusLike): Readonly<{ quality: Quality; reason?: string }> {
  const severity = status.value >>> 30;
  if (severity === 0) {
    // Good with info bits (GoodClamped, GoodOverload …) is still good, but worth saying.
    return status.value === 0 ? PLAIN_GOOD : { quality: 'good', reason: status.name };
  }
  if (severity === 1) return { quality: 'uncertain', reason: status.name };
  return { quality: 'bad', reason: status.name };
}
