import { beforeAll, describe, expect, it } from 'vitest';
import type { CodeLanguage, ImportFact } from './facts.js';
import { CodeParsers } from './parse.js';

let parsers: CodeParsers;
beforeAll(async () => {
  parsers = await CodeParsers.load();
});

const imports = (text: string, lang: CodeLanguage) =>
  parsers.analyze(text, lang).imports.map(({ line: _line, ...rest }) => rest);

describe('Python imports, by a real parser', () => {
  it.each<[string, string, Omit<ImportFact, 'line'>[]]>([
    ['import x', 'import os', [{ spec: 'os', kind: 'import' }]],
    [
      'dotted, two at once',
      'import a.b, c',
      [
        { spec: 'a.b', kind: 'import' },
        { spec: 'c', kind: 'import' },
      ],
    ],
    ['aliased', 'import numpy as np', [{ spec: 'numpy', kind: 'import' }]],
    [
      'from x import y',
      'from a.b import c, d as e',
      [{ spec: 'a.b', kind: 'from', names: ['c', 'd'] }],
    ],
    ['from . import y', 'from . import y', [{ spec: '', kind: 'from', level: 1, names: ['y'] }]],
    [
      'relative levels',
      'from ..pkg.mod import z',
      [{ spec: 'pkg.mod', kind: 'from', level: 2, names: ['z'] }],
    ],
    ['wildcard', 'from m import *', [{ spec: 'm', kind: 'from', names: ['*'] }]],
    ['__future__', 'from __future__ import annotations', [{ spec: '__future__', kind: 'from' }]],
    [
      'importlib literal',
      'import importlib\nm = importlib.import_module("plug.ins")',
      [
        { spec: 'importlib', kind: 'import' },
        { spec: 'plug.ins', kind: 'importlib' },
      ],
    ],
    [
      'import_module relative to a package',
      'from importlib import import_module\nimport_module(".x", "pkg.sub")',
      [
        { spec: 'importlib', kind: 'from', names: ['import_module'] },
        { spec: 'pkg.sub.x', kind: 'importlib' },
      ],
    ],
    [
      'importlib with a computed name: not an import',
      'import importlib\nimportlib.import_module(name)',
      [{ spec: 'importlib', kind: 'import' }],
    ],
    [
      'import-shaped strings and docstrings are not imports',
      '"""\nimport fake\n"""\ns = "from x import y"\n# import commented',
      [],
    ],
    ['inside a function', 'def f():\n    import json\n', [{ spec: 'json', kind: 'import' }]],
  ])('%s', (_name, text, expected) => {
    expect(imports(text, 'python')).toEqual(expected);
  });

  it('finds a module-level __main__ guard, functions with lines, and says where a file does not parse', () => {
    const body =
      '    total = 0\n' +
      '    total = total + a * b - c / 2 + len(str(a))\n'.repeat(4) +
      '    return total\n';
    const f = parsers.analyze(
      `def big(a, b, c):\n${body}\nif __name__ == "__main__":\n    big(1, 2, 3)\n`,
      'python',
    );
    expect(f.main).toBe(true);
    expect(f.functions).toEqual([expect.objectContaining({ name: 'big', line: 1, endLine: 7 })]);
    expect(f.error).toBeUndefined();
    expect(parsers.analyze('def f(:\n  pass\n', 'python').error).toMatch(
      /^syntax error at line 1:/,
    );
    expect(parsers.analyze('import os\x00\x01', 'python').error).toBe('binary');
  });

  it('gives renamed code the same normalised hash and a different exact one', () => {
    const a = parsers.analyze('def f(x, y):\n    return x + y * 2\n', 'python');
    const b = parsers.analyze('def g(p, q):\n    return p + q * 3\n', 'python');
    const c = parsers.analyze('def f(x, y):  # comment\n    return x + y * 2\n', 'python');
    expect(b.norm).toBe(a.norm);
    expect(b.raw).not.toBe(a.raw);
    expect(c.raw).toBe(a.raw);
  });
});

describe('JavaScript and TypeScript imports', () => {
  it.each<[string, string, CodeLanguage, Omit<ImportFact, 'line'>[]]>([
    [
      'ESM',
      'import a from "./a.js";\nimport { b } from \'b\';',
      'javascript',
      [
        { spec: './a.js', kind: 'esm' },
        { spec: 'b', kind: 'esm' },
      ],
    ],
    [
      'side-effect import',
      'import "./polyfill";',
      'javascript',
      [{ spec: './polyfill', kind: 'esm' }],
    ],
    [
      're-export',
      'export * from "./x";\nexport { y } from "./y";',
      'typescript',
      [
        { spec: './x', kind: 'reexport' },
        { spec: './y', kind: 'reexport' },
      ],
    ],
    [
      'CommonJS require',
      'const fs = require("fs");',
      'javascript',
      [{ spec: 'fs', kind: 'require' }],
    ],
    [
      'dynamic import',
      'const m = await import("./lazy.js");',
      'javascript',
      [{ spec: './lazy.js', kind: 'dynamic' }],
    ],
    [
      'template literal without substitution',
      'require(`./t`);',
      'javascript',
      [{ spec: './t', kind: 'require' }],
    ],
    ['computed require: not an import', 'require(name); require(`./${x}`);', 'javascript', []],
    [
      'type-only import',
      'import type { T } from "./types";',
      'typescript',
      [{ spec: './types', kind: 'type' }],
    ],
    [
      'import x = require()',
      'import fs = require("fs");',
      'typescript',
      [{ spec: 'fs', kind: 'require' }],
    ],
    [
      'TSX',
      'import React from "react";\nexport const A = () => <div>{"import x from y"}</div>;',
      'tsx',
      [{ spec: 'react', kind: 'esm' }],
    ],
    [
      'strings and comments are not imports',
      '// import a from "a"\nconst s = "require(\'b\')";',
      'javascript',
      [],
    ],
  ])('%s', (_name, text, lang, expected) => {
    expect(imports(text, lang)).toEqual(expected);
  });
});
