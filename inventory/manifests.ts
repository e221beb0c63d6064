/**
 * Name, version and dependencies from a project's manifest files. Pure parsers of the text: a
 * manifest that does not parse yields what could be read, never an error, since a scan must go
 * on over a broken project.
 */

export interface ManifestInfo {
  name?: string;
  version?: string;
  dependencies: string[];
}

/** `requests>=2.0 ; python_version > "3"` → `requests`. */
function requirementName(spec: string): string | undefined {
  const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(spec);
  return m?.[1]?.toLowerCase();
}

/** requirements*.txt: one requirement a line; options (`-r`, `--hash`) and comments skipped. */
export function parseRequirements(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+#.*$/, '').trim();
    if (line === '' || line.startsWith('#') || line.startsWith('-')) continue;
    const name = requirementName(line);
    if (name) out.push(name);
  }
  return out;
}

/** Strings of a TOML array that may span lines: `["a>=1", 'b']`. */
function tomlStrings(text: string): string[] {
  return [...text.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'/g)].map((m) => m[1] ?? m[2] ?? '');
}

/**
 * pyproject.toml, the parts we need: `[project]` name/version/dependencies (PEP 621) or
 * `[tool.poetry]` name/version and the keys of `[tool.poetry.dependencies]`. Not a TOML parser:
 * tables, `key = "string"` and string arrays only.
 */
export function parsePyproject(text: string): ManifestInfo {
  const info: ManifestInfo = { dependencies: [] };
  let table = '';
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/^\s+/, '');
    const header = /^\[([^\]]+)\]\s*(#.*)?$/.exec(line);
    if (header) {
      table = header[1]!.trim();
      continue;
    }
    const kv = /^([A-Za-z0-9_.-]+|"[^"]+")\s*=\s*(.*)$/.exec(line);
    if (!kv) continue;
    const key = kv[1]!.replace(/"/g, '');
    let value = kv[2]!;
    if (table === 'project' || table === 'tool.poetry') {
      const str = /^["']([^"']*)["']/.exec(value)?.[1];
      if (key === 'name' && str !== undefined) info.name ??= str;
      if (key === 'version' && str !== undefined) info.version ??= str;
      if (table === 'project' && key === 'dependencies' && value.startsWith('[')) {
        // The array may continue over the next lines until its closing bracket.
        while (!/\]\s*(#.*)?$/.test(value) && i + 1 < lines.length) value += '\n' + lines[++i];
        for (const spec of tomlStrings(value)) {
          const name = requirementName(spec);
          if (name) info.dependencies.push(name);
        }
      }
    } else if (table === 'tool.poetry.dependencies' && key !== 'python') {
      info.dependencies.push(key.toLowerCase());
    }
  }
  return info;
}

/** setup.py: literal `name=`/`version=` arguments and `install_requires=[…]` strings. */
export function parseSetupPy(text: string): ManifestInfo {
  const literal = (key: string) => new RegExp(`\\b${key}\\s*=\\s*["']([^"']+)["']`).exec(text)?.[1];
  const requires = /install_requires\s*=\s*\[([^\]]*)\]/.exec(text)?.[1] ?? '';
  return {
    name: literal('name'),
    version: literal('version'),
    dependencies: tomlStrings(requires)
      .map(requirementName)
      .filter((n): n is string => n !== undefined),
  };
}

/** package.json: name, version, and the names of dependencies and devDependencies. */
export function parsePackageJson(text: string): ManifestInfo {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { dependencies: [] };
  }
  if (typeof doc !== 'object' || doc === null) return { dependencies: [] };
  const d = doc as Record<string, unknown>;
  const keys = (v: unknown) => (typeof v === 'object' && v !== null ? Object.keys(v) : []);
  return {
    name: typeof d.name === 'string' ? d.name : undefined,
    version: typeof d.version === 'string' ? d.version : undefined,
    dependencies: [...keys(d.dependencies), ...keys(d.devDependencies)],
  };
}

/** Lockfiles in the order a project is most likely managed by. */
export const NODE_LOCKFILES = [
  'package-lock.json',
  'npm-shrinkwrap.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'bun.lockb',
];
