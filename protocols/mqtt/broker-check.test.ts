import { describe, expect, it } from 'vitest';
import { brokerFix } from './broker-check.js';

const config = { url: 'mqtt://b:1883', protocolVersion: 5 as const, keepaliveSec: 30 };

describe('brokerFix', () => {
  it.each([
    ['Connection refused: Not authorized', { username: 'edge' }, /refused user "edge"/],
    ['Connection refused: Bad User Name or Password', {}, /refused anonymous access/],
    ['connect ECONNREFUSED 127.0.0.1:1883', {}, /nothing listens there/],
    ['self-signed certificate in certificate chain', {}, /mqtt\.tls\.ca/],
    ['getaddrinfo ENOTFOUND broker.plant', {}, /cannot be reached/],
    ['timeout', {}, /8883/],
    ['something else', {}, /check mqtt\.url/],
  ])('%s', (error, over, fix) => {
    expect(brokerFix(error, { ...config, ...over })).toMatch(fix);
  });
});
