import { StatusCodes } from 'node-opcua';
import { describe, expect, it } from 'vitest';
import { qualityOf } from './status.js';

describe('qualityOf', () => {
  it.each([
    [StatusCodes.Good, { quality: 'good' }],
    [StatusCodes.GoodClamped, { quality: 'good', reason: 'GoodClamped' }],
    [
      StatusCodes.UncertainLastUsableValue,
      { quality: 'uncertain', reason: 'UncertainLastUsableValue' },
    ],
    [
      StatusCodes.UncertainSensorNotAccurate,
      { quality: 'uncertain', reason: 'UncertainSensorNotAccurate' },
    ],
    [StatusCodes.BadSensorFailure, { quality: 'bad', reason: 'BadSensorFailure' }],
    [StatusCodes.BadNodeIdUnknown, { quality: 'bad', reason: 'BadNodeIdUnknown' }],
    [StatusCodes.BadCommunicationError, { quality: 'bad', reason: 'BadCommunicationError' }],
    [StatusCodes.BadWaitingForInitialData, { quality: 'bad', reason: 'BadWaitingForInitialData' }],
  ])('%s', (status, expected) => {
    expect(qualityOf(status)).toEqual(expected);
  });

  it('reads the severity bits, not a list of names', () => {
    // Bits 31-30: 11 is reserved in the spec and treated as bad.
    expect(qualityOf({ value: 0xc0000000, name: 'Reserved' }).quality).toBe('bad');
    expect(qualityOf({ value: 0x40000000, name: 'Uncertain' }).quality).toBe('uncertain');
  });
});
