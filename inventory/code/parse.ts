import { createRequire } from 'node:module';
import type { Language, Node, Parser, Tree, TreeCursor } from 'web-tree-sitter';
import { kgramHashes, sequenceHash, tokenId, winnow } from './fingerprint.js';
import type { CodeFacts, CodeLanguage, FunctionFact, ImportFact } from './facts.js';

/** Clone-detection parameters; the scan's defaults are DEFAULT_CLONE_PARAMS. */
export interface CloneParams {
  /** Tokens per k-gram: matches shorter than this are noise (MOSS's k). */
  k: number;
  /** Winnowing window, k-grams: any match of k + w - 1 tokens is found. */
  w: number;
  /** Functions shorter than this, in tokens, are not compared on their own. */
  minFunctionTokens: number;
}

export const DEFAULT_CLONE_PARAMS: CloneParams = { k: 20, w: 10, minFunctionTokens: 40 };

/** Leaf-like nodes: one token each, never descended into (their text is one literal). */
const LITERALS: Record<string, string> = {
  string: 'S',
  template_string: 'S',
  integer: 'N',
  float: 'N',
  number: 'N',
  regex: 'S',
};

/** Every kind of name in the Python, JavaScript and TypeScript grammars: renamed to one token. */
const NAMES = new Set([
  'identifier',
  'property_identifier',
  'shorthand_property_identifier',
  'shorthand_property_identifier_pattern',
  'type_identifier',
  'field_identifier',
  'statement_identifier',
  'private_property_identifier',
]);

const COMMENTS = new Set(['comment', 'html_comment']);

const PY_UNITS = new Set(['function_definition']);
const JS_UNITS = new Set([
  'function_declaration',
  'generator_function_declaration',
  'method_definition',
  'variable_declarator',
]);

const WASM_FILES: Record<CodeLanguage, string> = {
  python: 'tree-sitter-python.wasm',
  javascript: 'tree-sitter-javascript.wasm',
  typescript: 'tree-sitter-typescript.wasm',
  tsx: 'tree-sitter-tsx.wasm',
};

/**
 * The text of a string literal without prefix and quotes; undefined for f-strings and template
 * strings with substitutions, whose value is not known before run time.
 */
export function literalText(node: Node | null): string | undefined {
  if (!node) return undefined;
  if (node.type !== 'string' && node.type !== 'template_string') return undefined;
  if (node.children.some((c) => c?.type === 'interpolation' || c?.type === 'template_substitution'))
    return undefined;
  const m = /^[rRbBuU]{0,2}('''|"""|'|"|`)([\s\S]*)\1$/.exec(node.text);
  return m?.[2];
}

/** Parsers for every language, created once per process (the wasm modules load in ~50 ms). */
export class CodeParsers {
  private constructor(
    private readonly parsers: Map<CodeLanguage, Parser>,
    private readonly params: CloneParams,
  ) {}

  /** Loads web-tree-sitter and the grammars only when code is analysed, never at import. */
  static async load(params: CloneParams = DEFAULT_CLONE_PARAMS): Promise<CodeParsers> {
    const ts = await import('web-tree-sitter');
    await ts.Parser.init();
    const require = createRequire(import.meta.url);
    const parsers = new Map<CodeLanguage, Parser>();
    for (const [lang, file] of Object.entries(WASM_FILES) as [CodeLanguage, string][]) {
      const language: Language = await ts.Language.load(
        require.resolve(`tree-sitter-wasms/out/${file}`),
      );
      const parser = new ts.Parser();
      parser.setLanguage(language);
      parsers.set(lang, parser);
    }
    return new CodeParsers(parsers, params);
  }

  /** Imports, functions and clone fingerprints of one file's text. */
  analyze(text: string, lang: CodeLanguage): CodeFacts {
    const lines = text.length === 0 ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (text.includes('\0'))
      return { lang, lines, tokens: 0, imports: [], functions: [], fp: '', error: 'binary' };
    let tree: Tree | null;
    try {
      tree = this.parsers.get(lang)!.parse(text);
    } catch (err) {
      tree = null;
      void err;
    }
    if (!tree)
      return {
        lang,
        lines,
        tokens: 0,
        imports: [],
        functions: [],
        fp: '',
        error: 'parser gave up',
      };
    try {
      return this.extract(tree, text, lang, lines);
    } finally {
      tree.delete();
    }
  }

  private extract(tree: Tree, text: string, lang: CodeLanguage, lines: number): CodeFacts {
    const python = lang === 'python';
    const units = python ? PY_UNITS : JS_UNITS;
    const ids: number[] = [];
    const raw: number[] = [];
    const imports: ImportFact[] = [];
    const functions: FunctionFact[] = [];
    const open: { name: string; line: number; start: number; depth: number }[] = [];
    let error: string | undefined;
    let main = false;
    const cursor: TreeCursor = tree.walk();
    let depth = 0;
    for (;;) {
      const type = cursor.nodeType;
      let descend = true;
      if (COMMENTS.has(type)) descend = false;
      else if (type === 'ERROR' || cursor.nodeIsMissing) {
        if (error === undefined) {
          const p = cursor.startPosition;
          const near = text.slice(cursor.startIndex, cursor.startIndex + 30).split('\n')[0];
          error = cursor.nodeIsMissing
            ? `syntax error at line ${p.row + 1}:${p.column + 1}: missing ${type}`
            : `syntax error at line ${p.row + 1}:${p.column + 1} near "${near}"`;
        }
      } else if (LITERALS[type] !== undefined) {
        ids.push(tokenId(LITERALS[type]));
        raw.push(tokenId(text.slice(cursor.startIndex, cursor.endIndex)));
        descend = false;
      } else {
        if (python) main ||= this.pythonNode(cursor, imports, depth);
        else this.scriptNode(cursor, imports);
        if (units.has(type)) {
          const name = unitName(cursor.currentNode, python);
          if (name !== undefined)
            open.push({ name, line: cursor.startPosition.row + 1, start: ids.length, depth });
        }
      }
      if (descend && cursor.gotoFirstChild()) {
        depth += 1;
        continue;
      }
      if (descend && LITERALS[type] === undefined && !COMMENTS.has(type)) {
        // A leaf: keywords and operators are their own token, names one token for all.
        const token = text.slice(cursor.startIndex, cursor.endIndex);
        if (token !== '' && type !== 'ERROR') {
          ids.push(tokenId(NAMES.has(type) ? 'I' : type));
          raw.push(tokenId(token));
        }
      }
      let done = false;
      for (;;) {
        // Leaving the node under the cursor: close the function it ends.
        const top = open[open.length - 1];
        if (top && top.depth === depth) {
          open.pop();
          const n = ids.length - top.start;
          if (n >= this.params.minFunctionTokens) {
            const norm = Uint32Array.from(ids.slice(top.start));
            const exact = Uint32Array.from(raw.slice(top.start));
            functions.push({
              name: top.name,
              line: top.line,
              endLine: cursor.endPosition.row + 1,
              tokens: n,
              norm: sequenceHash(norm),
              raw: sequenceHash(exact),
            });
          }
        }
        if (cursor.gotoNextSibling()) break;
        if (!cursor.gotoParent()) {
          done = true;
          break;
        }
        depth -= 1;
      }
      if (done) break;
    }
    cursor.delete();
    const norm = Uint32Array.from(ids);
    const { hashes } = winnow(kgramHashes(norm, this.params.k), this.params.w);
    return {
      lang,
      lines,
      tokens: ids.length,
      imports,
      functions,
      fp: Buffer.from(hashes.buffer).toString('base64'),
      norm: sequenceHash(norm),
      raw: sequenceHash(Uint32Array.from(raw)),
      ...(main ? { main: true } : {}),
      ...(error !== undefined ? { error } : {}),
    };
  }

  /** Python import forms; returns true on a module-level `if __name__ == "__main__":`. */
  private pythonNode(cursor: TreeCursor, imports: ImportFact[], depth: number): boolean {
    const type = cursor.nodeType;
    if (
      type !== 'import_statement' &&
      type !== 'import_from_statement' &&
      type !== 'future_import_statement' &&
      type !== 'call' &&
      !(type === 'if_statement' && depth === 1)
    )
      return false;
    const node = cursor.currentNode;
    const line = node.startPosition.row + 1;
    if (type === 'if_statement') {
      const cond = node.childForFieldName('condition')?.text ?? '';
      return /^(__name__\s*==\s*['"]__main__['"]|['"]__main__['"]\s*==\s*__name__)$/.test(cond);
    }
    if (type === 'future_import_statement')
      imports.push({ spec: '__future__', kind: 'from', line });
    else if (type === 'import_statement') {
      for (const child of node.namedChildren) {
        const name = child?.type === 'aliased_import' ? child.childForFieldName('name') : child;
        if (name?.type === 'dotted_name') imports.push({ spec: name.text, kind: 'import', line });
      }
    } else if (type === 'import_from_statement') {
      const module = node.childForFieldName('module_name');
      let spec = module?.text ?? '';
      let level = 0;
      if (module?.type === 'relative_import') {
        const prefix = module.namedChildren.find((c) => c?.type === 'import_prefix');
        level = prefix?.text.length ?? 0;
        spec = module.namedChildren.find((c) => c?.type === 'dotted_name')?.text ?? '';
      }
      const names = node
        .childrenForFieldName('name')
        .map((n) =>
          n?.type === 'aliased_import'
            ? (n.childForFieldName('name')?.text ?? '')
            : (n?.text ?? ''),
        );
      if (node.namedChildren.some((c) => c?.type === 'wildcard_import')) names.push('*');
      imports.push({ spec, kind: 'from', line, ...(level ? { level } : {}), names });
    } else {
      const fn = node.childForFieldName('function')?.text;
      if (fn !== 'importlib.import_module' && fn !== 'import_module' && fn !== '__import__')
        return false;
      const args = node.childForFieldName('arguments')?.namedChildren ?? [];
      const spec = literalText(args[0] ?? null);
      if (spec === undefined) return false;
      const pkg = literalText(args[1] ?? null);
      const dots = /^\.*/.exec(spec)![0].length;
      if (dots > 0 && pkg !== undefined)
        // import_module('.x', 'pkg.sub') = pkg.sub.x: the package is the anchor, not this file.
        imports.push({
          spec: [...pkg.split('.').slice(0, pkg.split('.').length - (dots - 1)), spec.slice(dots)]
            .filter(Boolean)
            .join('.'),
          kind: 'importlib',
          line,
        });
      else
        imports.push({
          spec: spec.slice(dots),
          kind: 'importlib',
          line,
          ...(dots ? { level: dots } : {}),
        });
    }
    return false;
  }

  /** ESM, re-exports, CJS `require`, `import()` and TypeScript's `import x = require()`. */
  private scriptNode(cursor: TreeCursor, imports: ImportFact[]): void {
    const type = cursor.nodeType;
    if (type !== 'import_statement' && type !== 'export_statement' && type !== 'call_expression')
      return;
    const node = cursor.currentNode;
    const line = node.startPosition.row + 1;
    if (type === 'call_expression') {
      const fn = node.childForFieldName('function');
      const kind = fn?.type === 'import' ? 'dynamic' : fn?.text === 'require' ? 'require' : null;
      if (!kind) return;
      const arg = node.childForFieldName('arguments')?.namedChildren[0] ?? null;
      const spec = literalText(arg);
      if (spec !== undefined) imports.push({ spec, kind, line });
      return;
    }
    const required = node.namedChildren.find((c) => c?.type === 'import_require_clause');
    const source = required
      ? required.childForFieldName('source')
      : node.childForFieldName('source');
    const spec = literalText(source);
    if (spec === undefined) return;
    const typeOnly = node.children.some((c) => c?.type === 'type' && !c.isNamed);
    imports.push({
      spec,
      kind: required
        ? 'require'
        : typeOnly
          ? 'type'
          : type === 'export_statement'
            ? 'reexport'
            : 'esm',
      line,
    });
  }
}

/** A function's name; a JS variable counts only when it holds a function. */
function unitName(node: Node, python: boolean): string | undefined {
  if (python || node.type !== 'variable_declarator') return node.childForFieldName('name')?.text;
  const value = node.childForFieldName('value')?.type;
  if (value !== 'arrow_function' && value !== 'function' && value !== 'function_expression')
    return undefined;
  return node.childForFieldName('name')?.text;
}
