import { z } from 'zod';

/**
 * What the scan learns from one code file's text, keyed in the report by its content hash (so
 * copies cost nothing twice and a re-scan only analyses changed files). Part of the inventory
 * report contract: consumers validate it with these schemas.
 */
export const CODE_LANGUAGES = ['python', 'javascript', 'typescript', 'tsx'] as const;
export type CodeLanguage = (typeof CODE_LANGUAGES)[number];

export const IMPORT_KINDS = [
  'import',
  'from',
  'importlib',
  'esm',
  'reexport',
  'type',
  'require',
  'dynamic',
] as const;

export const importFactSchema = z.strictObject({
  spec: z.string().describe('Module as written, without leading dots (see level)'),
  kind: z.enum(IMPORT_KINDS),
  line: z.number().int().min(1),
  level: z.number().int().min(1).optional().describe('Python relative import: number of dots'),
  names: z.array(z.string()).optional().describe('Python `from x import a, b`: a, b (or *)'),
});

export const functionFactSchema = z.strictObject({
  name: z.string(),
  line: z.number().int(),
  endLine: z.number().int(),
  tokens: z.number().int(),
  norm: z.string().describe('Hash of its tokens with names and literals replaced (type-2 clones)'),
  raw: z.string().describe('Hash of its tokens as written, comments and layout aside (type 1)'),
});

export const codeFactsSchema = z.strictObject({
  lang: z.enum(CODE_LANGUAGES),
  lines: z.number().int().min(0),
  tokens: z.number().int().min(0),
  imports: z.array(importFactSchema),
  functions: z.array(functionFactSchema),
  fp: z.string().describe('Winnowed k-gram fingerprints, base64 of little-endian uint32'),
  norm: z.string().optional(),
  raw: z.string().optional(),
  main: z.literal(true).optional().describe('Has a module-level `if __name__ == "__main__":`'),
  error: z.string().optional().describe('Why it did not parse cleanly (still fingerprinted)'),
});

export const ENTRY_KINDS = [
  'console_script',
  'package_bin',
  'package_main',
  'docker',
  'procfile',
] as const;

export const entryPointSchema = z.strictObject({
  kind: z.enum(ENTRY_KINDS),
  name: z.string().describe('Script name, export path, Dockerfile'),
  file: z.string().optional().describe('File it runs, relative to the project'),
  module: z.string().optional().describe('Python module it runs (`pkg.cli:main` → pkg.cli)'),
  command: z.string().optional().describe('The command line as declared'),
});

export type ImportFact = z.output<typeof importFactSchema>;
export type FunctionFact = z.output<typeof functionFactSchema>;
export type CodeFacts = z.output<typeof codeFactsSchema>;
export type EntryPoint = z.output<typeof entryPointSchema>;

const EXTENSIONS: Record<string, CodeLanguage> = {
  py: 'python',
  js: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  jsx: 'javascript',
  ts: 'typescript',
  mts: 'typescript',
  cts: 'typescript',
  tsx: 'tsx',
};

/** The grammar a file is parsed with, by extension; `.d.ts` declarations hold no code to run. */
export function codeLanguageOf(path: string): CodeLanguage | undefined {
  if (path.endsWith('.d.ts')) return undefined;
  const dot = path.lastIndexOf('.');
  return dot < 0 ? undefined : EXTENSIONS[path.slice(dot + 1)];
}
