import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** HS256 JWTs like Atlas's JwtTokenProvider issues: `sub` (email), `iat`, `exp` (seconds), `auth`. */
export class JwtIssuer {
  private readonly secret = randomBytes(32);

  issue(email: string, lifetimeMs: number, now = Date.now()): string {
    const header = encode({ alg: 'HS256', typ: 'JWT' });
    const payload = encode({
      sub: email,
      iat: Math.floor(now / 1000),
      exp: Math.floor((now + lifetimeMs) / 1000),
      // Milliseconds too: tests expire tokens within a second of issuing them.
      iatMs: now,
      expMs: now + lifetimeMs,
      auth: [{ authority: 'ROLE_CLIENT' }],
    });
    return `${header}.${payload}.${this.sign(`${header}.${payload}`)}`;
  }

  /** The token's subject and issue time when its signature holds and it has not expired. */
  verify(token: string, now = Date.now()): { email: string; issuedAt: number } | undefined {
    const [header, payload, signature] = token.split('.');
    if (!header || !payload || !signature) return undefined;
    const expected = Buffer.from(this.sign(`${header}.${payload}`));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
        sub: string;
        iatMs: number;
        expMs: number;
      };
      return claims.expMs > now ? { email: claims.sub, issuedAt: claims.iatMs } : undefined;
    } catch {
      return undefined;
    }
  }

  private sign(input: string): string {
    return createHmac('sha256', this.secret).update(input).digest('base64url');
  }
}

function encode(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
