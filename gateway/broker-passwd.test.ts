import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  hashPassword,
  parsePasswordFile,
  PasswordFileError,
  readPasswordFile,
  updatePasswordFile,
  verifyPassword,
} from './broker-passwd.js';

describe('broker password file', () => {
  it('hashes with scrypt and a random salt, and verifies', async () => {
    const a = await hashPassword('s3cret');
    const b = await hashPassword('s3cret');
    expect(a).toMatch(/^\$scrypt\$ln=14,r=8,p=1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('s3cret');
    expect(await verifyPassword('s3cret', a)).toBe(true);
    expect(await verifyPassword('s3cret!', a)).toBe(false);
    expect(await verifyPassword('', a)).toBe(false);
    expect(await verifyPassword('s3cret', 'plain-text')).toBe(false);
  });

  it('adds, replaces and deletes entries, keeping comments, mode 0600', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'factorylm-passwd-')), 'users');
    const hash = await hashPassword('pw');
    expect(
      updatePasswordFile(file, 'edge-01', {
        user: 'edge-01',
        role: 'node',
        site: 'plant1',
        node: 'edge-01',
        hash,
      }),
    ).toBe('added');
    expect(updatePasswordFile(file, 'gw', { user: 'gw', role: 'gateway', hash })).toBe('added');
    writeFileSync(file, readFileSync(file, 'utf8') + '# a comment of the operator\n');
    expect(updatePasswordFile(file, 'gw', { user: 'gw', role: 'admin', hash })).toBe('replaced');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    let users = readPasswordFile(file);
    expect([...users.keys()]).toEqual(['edge-01', 'gw']);
    expect(users.get('edge-01')).toMatchObject({ role: 'node', site: 'plant1', node: 'edge-01' });
    expect(users.get('gw')?.role).toBe('admin');
    expect(updatePasswordFile(file, 'edge-01', undefined)).toBe('deleted');
    expect(updatePasswordFile(file, 'edge-01', undefined)).toBe('absent');
    users = readPasswordFile(file);
    expect([...users.keys()]).toEqual(['gw']);
    expect(readFileSync(file, 'utf8')).toContain('# a comment of the operator');
  });

  it('names every bad line', async () => {
    const hash = await hashPassword('pw');
    const text = [
      '# comment',
      `ok:node:plant1:edge-01:${hash}`,
      'too:few:fields',
      `n:node:::${hash}`,
      `g:gateway:plant1::${hash}`,
      `x:root:::${hash}`,
      `s:node:plant/1:edge:${hash}`,
      'h:admin:::not-a-hash',
      `ok:admin:::${hash}`,
    ].join('\n');
    let error: unknown;
    try {
      parsePasswordFile(text, 'users');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PasswordFileError);
    const problems = (error as PasswordFileError).problems;
    expect(problems).toEqual([
      'line 3: expected user:role:site:node:hash',
      'line 4: a node user needs its site and node',
      'line 5: a gateway user has no site or node (leave them empty)',
      'line 6: role "root" must be one of node, gateway, admin',
      expect.stringMatching(/^line 7: site "plant\/1" must not contain/),
      'line 8: the hash is not a $scrypt$ln=…,r=…,p=…$salt$hash string',
      'line 9: user "ok" is listed twice',
    ]);
  });
});
