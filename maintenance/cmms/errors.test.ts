import { describe, expect, it } from 'vitest';
import { classifyReply, replyMessage } from './errors.js';

const spring = (status: number) =>
  JSON.stringify({ timestamp: '2026-01-01T00:00:00Z', status, error: 'x', path: '/work-orders' });
const atlas = (message: string) => JSON.stringify({ success: false, message });

describe('classifyReply', () => {
  it.each([
    ['200', 200, '{}', true, { kind: 'ok' }],
    ['204 empty', 204, '', true, { kind: 'ok' }],
    [
      '401 on a request with a token',
      401,
      atlas('Session has been revoked'),
      true,
      { kind: 'auth' },
    ],
    [
      'JWT filter, message kept',
      500,
      atlas('Expired or invalid JWT token'),
      true,
      { kind: 'auth' },
    ],
    ['JWT filter, Spring error page', 500, spring(500), true, { kind: 'auth' }],
    ['JWT filter, /error denied: empty 403', 403, '', true, { kind: 'auth' }],
    ['controller 500', 500, atlas('could not execute statement'), true, { kind: 'transient' }],
    ['500 while signing in', 500, spring(500), false, { kind: 'transient' }],
    [
      'licence limit',
      403,
      atlas(
        'You need a license to add a new work order. Free Limit of 30 incomplete work orders reached',
      ),
      true,
      { kind: 'permanent', licence: true },
    ],
    ['access denied by a controller', 403, atlas('Access denied'), true, { kind: 'permanent' }],
    ['bad password', 403, atlas('Invalid credentials'), false, { kind: 'permanent' }],
    ['401 while signing in', 401, atlas('Invalid refresh token'), false, { kind: 'permanent' }],
    [
      'rate limit',
      429,
      JSON.stringify({ error: 'Rate limit exceeded', message: 'Too many requests.' }),
      true,
      { kind: 'rate-limit' },
    ],
    ['validation', 400, atlas('title must not be null'), true, { kind: 'permanent' }],
    ['not found', 404, atlas('Not found'), true, { kind: 'permanent' }],
    ['not acceptable', 406, atlas("Status can't be null"), true, { kind: 'permanent' }],
    ['conflict', 409, atlas('The resource was modified'), true, { kind: 'permanent' }],
    ['request timeout', 408, '', true, { kind: 'transient' }],
    ['proxy 502 html', 502, '<html>Bad Gateway</html>', true, { kind: 'transient' }],
    ['503', 503, spring(503), false, { kind: 'transient' }],
  ])('%s', (_name, status, text, authenticated, verdict) => {
    expect(classifyReply(status, text, authenticated)).toEqual(verdict);
  });
});

describe('replyMessage', () => {
  it.each([
    [atlas('Not found'), 'Not found'],
    [spring(500), undefined],
    ['', undefined],
    ['<html>oops</html>', undefined],
    [JSON.stringify({ message: '' }), undefined],
    [JSON.stringify([1, 2]), undefined],
  ])('%s', (text, message) => {
    expect(replyMessage(text)).toBe(message);
  });
});
