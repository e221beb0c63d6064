import { describe, expect, it } from 'vitest';
import { parseStatus, pickRemote, stripCredentials } from './git.js';

describe('stripCredentials', () => {
  it.each([
    ['https://user:ghp_TOKEN@github.com/acme/x.git', 'https://github.com/acme/x.git'],
    ['https://oauth2:glpat-xyz@gitlab.example.com/g/x', 'https://gitlab.example.com/g/x'],
    ['https://token@host/x.git', 'https://host/x.git'],
    ['https://host/x.git?private_token=abc#frag', 'https://host/x.git'],
    ['ssh://git:pw@host:2222/x.git', 'ssh://host:2222/x.git'],
    ['https://u:p@ss@host/x', 'https://host/x'],
    ['git@github.com:acme/x.git', 'git@github.com:acme/x.git'],
    ['/srv/git/x.git', '/srv/git/x.git'],
    ['  https://host/x.git\n', 'https://host/x.git'],
  ])('%s → %s', (url, expected) => {
    expect(stripCredentials(url)).toBe(expected);
  });
});

describe('parseStatus (git status --porcelain=v2 --branch)', () => {
  it.each([
    [
      'clean with upstream',
      '# branch.oid 3f2a\n# branch.head main\n# branch.upstream origin/main\n# branch.ab +2 -1\n',
      { head: '3f2a', branch: 'main', ahead: 2, behind: 1, dirty: 0 },
    ],
    [
      'changed, staged, untracked',
      '# branch.oid 3f2a\n# branch.head dev\n1 .M N... 100644 100644 100644 a b x.py\n1 M. N... 100644 100644 100644 a b y.py\n? new.py\n',
      { head: '3f2a', branch: 'dev', dirty: 3 },
    ],
    ['detached HEAD', '# branch.oid 3f2a\n# branch.head (detached)\n', { head: '3f2a', dirty: 0 }],
    [
      'no commit yet',
      '# branch.oid (initial)\n# branch.head main\n? a\n',
      { branch: 'main', dirty: 1 },
    ],
  ])('%s', (_name, text, expected) => {
    expect(parseStatus(text)).toEqual(expected);
  });
});

describe('pickRemote', () => {
  it.each([
    ['remote.upstream.url https://a/x\nremote.origin.url https://t@b/y\n', 'https://b/y'],
    ['remote.fork.url git@h:x.git\n', 'git@h:x.git'],
    ['', undefined],
  ])('%j → %s', (text, expected) => {
    expect(pickRemote(text)).toBe(expected);
  });
});
