import { describe, expect, it } from 'vitest';
import type { ImportFact } from './facts.js';
import { joinPath, moduleName, ModuleResolver, type Resolution } from './resolve.js';

const files = [
  '/opt/a/pkg/__init__.py',
  '/opt/a/pkg/core.py',
  '/opt/a/pkg/sub/__init__.py',
  '/opt/a/pkg/sub/deep.py',
  '/opt/a/tool.py',
  '/opt/b/src/bpkg/__init__.py',
  '/opt/b/src/bpkg/api.py',
  '/opt/b/run.py',
  '/opt/web/src/index.ts',
  '/opt/web/src/util.ts',
  '/opt/web/src/lib/index.js',
  '/opt/web/src/data.json',
  '/opt/lib/main.js',
  '/opt/lib/extra.js',
  '/opt/web/src/app.js',
];
const projectOf = (p: string) =>
  p.startsWith('/opt/a/') ? 0 : p.startsWith('/opt/b/') ? 1 : p.startsWith('/opt/web/') ? 2 : 3;
const resolver = new ModuleResolver(
  files.map((path) => ({ path, project: projectOf(path), python: path.endsWith('.py') })),
  [
    { path: '/opt/a', dependencies: ['requests', 'python-telegram-bot'], mains: [] },
    { path: '/opt/b', dependencies: [], mains: [] },
    { path: '/opt/web', packageName: 'web', dependencies: ['fastify'], mains: [] },
    { path: '/opt/lib', packageName: '@acme/lib', dependencies: [], mains: ['main.js'] },
  ],
);
const at = (p: string): Resolution => ({ to: files.indexOf(p) });
const imp = (spec: string, extra: Partial<ImportFact> = {}): ImportFact => ({
  spec,
  kind: 'import',
  line: 1,
  ...extra,
});

describe('Python resolution', () => {
  it.each<[string, string, ImportFact, Resolution | string]>([
    ['absolute module in its package', '/opt/a/tool.py', imp('pkg.core'), at('/opt/a/pkg/core.py')],
    [
      'a package is its __init__.py',
      '/opt/a/tool.py',
      imp('pkg.sub'),
      at('/opt/a/pkg/sub/__init__.py'),
    ],
    [
      'from pkg import module',
      '/opt/a/tool.py',
      imp('pkg', { kind: 'from', names: ['core'] }),
      at('/opt/a/pkg/core.py'),
    ],
    [
      'from pkg import name: the package',
      '/opt/a/tool.py',
      imp('pkg', { kind: 'from', names: ['VERSION'] }),
      at('/opt/a/pkg/__init__.py'),
    ],
    [
      'from . import sibling',
      '/opt/a/pkg/core.py',
      imp('', { kind: 'from', level: 1, names: ['sub'] }),
      at('/opt/a/pkg/sub/__init__.py'),
    ],
    [
      'from .. import x (two levels)',
      '/opt/a/pkg/sub/deep.py',
      imp('core', { kind: 'from', level: 2, names: ['x'] }),
      at('/opt/a/pkg/core.py'),
    ],
    [
      'import a.b.c where c is a name: the longest module',
      '/opt/a/tool.py',
      imp('pkg.core.thing'),
      at('/opt/a/pkg/core.py'),
    ],
    [
      'src layout, from another project',
      '/opt/b/run.py',
      imp('bpkg.api'),
      at('/opt/b/src/bpkg/api.py'),
    ],
    ['another project on the node', '/opt/b/run.py', imp('pkg.core'), at('/opt/a/pkg/core.py')],
    ['standard library', '/opt/a/tool.py', imp('os.path'), { stdlib: true }],
    ['declared dependency', '/opt/a/tool.py', imp('requests.adapters'), { installed: 'requests' }],
    [
      'declared under another import name',
      '/opt/a/tool.py',
      imp('telegram.ext'),
      { installed: 'python-telegram-bot' },
    ],
    ['unresolved', '/opt/a/tool.py', imp('nowhere'), 'unresolved'],
    [
      'relative beyond the files',
      '/opt/a/pkg/core.py',
      imp('missing', { kind: 'from', level: 1 }),
      'unresolved',
    ],
  ])('%s', (_name, from, i, expected) => {
    const r = resolver.resolve(files.indexOf(from), i);
    if (expected === 'unresolved') expect(r).toHaveProperty('unresolved');
    else expect(r).toEqual(expected);
  });
});

describe('JavaScript/TypeScript resolution', () => {
  const js = (spec: string) => imp(spec, { kind: 'esm' });
  it.each<[string, string, string, Resolution | string]>([
    ['relative with extension', '/opt/web/src/index.ts', './util.ts', at('/opt/web/src/util.ts')],
    ['relative without extension', '/opt/web/src/index.ts', './util', at('/opt/web/src/util.ts')],
    ['TypeScript .js → .ts', '/opt/web/src/index.ts', './util.js', at('/opt/web/src/util.ts')],
    ['folder index', '/opt/web/src/index.ts', './lib', at('/opt/web/src/lib/index.js')],
    ['parent folder', '/opt/web/src/lib/index.js', '../app', at('/opt/web/src/app.js')],
    ['JSON', '/opt/web/src/index.ts', './data.json', at('/opt/web/src/data.json')],
    ['node: built-in', '/opt/web/src/index.ts', 'node:fs', { builtin: true }],
    ['bare built-in', '/opt/web/src/index.ts', 'path', { builtin: true }],
    ['scanned package: its main', '/opt/web/src/index.ts', '@acme/lib', at('/opt/lib/main.js')],
    [
      'scanned package: a sub-path',
      '/opt/web/src/index.ts',
      '@acme/lib/extra',
      at('/opt/lib/extra.js'),
    ],
    ['declared dependency', '/opt/web/src/index.ts', 'fastify/plugin', { installed: 'fastify' }],
    ['missing relative file', '/opt/web/src/index.ts', './nope', 'unresolved'],
    ['undeclared package', '/opt/web/src/index.ts', 'left-pad', 'unresolved'],
  ])('%s', (_name, from, spec, expected) => {
    const r = resolver.resolve(files.indexOf(from), js(spec));
    if (expected === 'unresolved') expect(r).toHaveProperty('unresolved');
    else expect(r).toEqual(expected);
  });

  it.each([
    ['/a/b', '../c', '/a/c'],
    ['/a/b', './c/./d', '/a/b/c/d'],
    ['/', '../x', '/x'],
  ])('joinPath(%s, %s) = %s', (base, rel, out) => expect(joinPath(base, rel)).toBe(out));

  it.each([
    ['/r/pkg/mod.py', '/r', 'pkg.mod'],
    ['/r/pkg/__init__.py', '/r', 'pkg'],
    ['/r/my-scripts/x.py', '/r', undefined],
    ['/s/x.py', '/r', undefined],
  ])('moduleName(%s, %s) = %s', (path, root, out) => expect(moduleName(path, root)).toBe(out));
});
