import { describe, expect, it } from 'vitest';
import { DEFAULT_CLONE_OPTIONS, findClones, type CloneInput } from './clones.js';
import type { CodeFacts, FunctionFact } from './facts.js';
import { encodeFingerprints } from './fingerprint.js';

/** A file's facts: fingerprints 1..n shifted by `base`, so files overlap where their ranges do. */
function facts(
  fp: number[],
  over: { norm?: string; raw?: string; functions?: FunctionFact[]; tokens?: number } = {},
): CodeFacts {
  return {
    lang: 'python',
    lines: 100,
    tokens: over.tokens ?? 500,
    imports: [],
    functions: over.functions ?? [],
    fp: encodeFingerprints(Uint32Array.from(fp)),
    norm: over.norm ?? `norm-${fp.join('.')}`,
    raw: over.raw ?? `raw-${fp.join('.')}`,
  };
}
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const fn = (name: string, norm: string, raw = norm): FunctionFact => ({
  name,
  line: 1,
  endLine: 10,
  tokens: 80,
  norm,
  raw,
});

describe('findClones', () => {
  it.each<[string, CloneInput[], { level: string; type: string; files: number[] }[]]>([
    [
      'the same tokens: type 1',
      [
        { file: 0, facts: facts(range(1, 20), { norm: 'a', raw: 'a' }) },
        { file: 1, facts: facts(range(1, 20), { norm: 'a', raw: 'a' }) },
      ],
      [{ level: 'file', type: '1', files: [0, 1] }],
    ],
    [
      'names changed, normalised tokens equal: type 2',
      [
        { file: 0, facts: facts(range(1, 20), { norm: 'a', raw: 'a' }) },
        { file: 1, facts: facts(range(101, 20), { norm: 'a', raw: 'b' }) },
      ],
      [{ level: 'file', type: '2', files: [0, 1] }],
    ],
    [
      '16 of 20 fingerprints shared (80 % of the larger): near',
      [
        { file: 0, facts: facts(range(1, 20)) },
        { file: 1, facts: facts([...range(1, 16), ...range(500, 4)]) },
      ],
      [{ level: 'file', type: 'near', files: [0, 1] }],
    ],
    [
      '10 of 20 shared (50 %): below the 70 % bar, no group',
      [
        { file: 0, facts: facts(range(1, 20)) },
        { file: 1, facts: facts([...range(1, 10), ...range(500, 10)]) },
      ],
      [],
    ],
    [
      'fewer tokens than minFileTokens: never a clone',
      [
        { file: 0, facts: facts(range(1, 20), { norm: 'a', raw: 'a', tokens: 10 }) },
        { file: 1, facts: facts(range(1, 20), { norm: 'a', raw: 'a', tokens: 10 }) },
      ],
      [],
    ],
    [
      'a function pasted into an otherwise different file',
      [
        { file: 0, facts: facts(range(1, 20), { functions: [fn('f', 'F', 'f1')] }) },
        { file: 1, facts: facts(range(300, 20), { functions: [fn('g', 'F', 'g1')] }) },
      ],
      [{ level: 'function', type: '2', files: [0, 1] }],
    ],
    [
      // The module was also copied whole (0 and 1): its function pasted into 2 is still found,
      // while the function shared by 0 and 1 only is no group of its own.
      'a function pasted from a module that was also copied whole',
      [
        {
          file: 0,
          facts: facts(range(1, 20), {
            norm: 'm',
            raw: 'm',
            functions: [fn('f', 'F'), fn('h', 'H')],
          }),
        },
        {
          file: 1,
          facts: facts(range(1, 20), {
            norm: 'm',
            raw: 'm',
            functions: [fn('f', 'F'), fn('h', 'H')],
          }),
        },
        { file: 2, facts: facts(range(300, 20), { functions: [fn('f', 'F')] }) },
      ],
      [
        { level: 'file', type: '1', files: [0, 1] },
        { level: 'function', type: '1', files: [0, 1, 2] },
      ],
    ],
  ])('%s', (_name, inputs, expected) => {
    const groups = findClones(inputs, DEFAULT_CLONE_OPTIONS).map((g) => ({
      level: g.level,
      type: g.type,
      files: g.members.map((m) => m.file).sort(),
    }));
    expect(groups).toEqual(expected);
  });
});
