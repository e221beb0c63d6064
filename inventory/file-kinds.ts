/** How the scan classifies a file by its name alone: language, code or not, secret or not. */

const LANGUAGES: Record<string, string> = {
  py: 'python',
  pyi: 'python',
  ipynb: 'notebook',
  js: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  jsx: 'javascript',
  ts: 'typescript',
  tsx: 'typescript',
  mts: 'typescript',
  sh: 'shell',
  bash: 'shell',
  go: 'go',
  rs: 'rust',
  c: 'c',
  h: 'c',
  cc: 'c++',
  cpp: 'c++',
  hpp: 'c++',
  java: 'java',
  rb: 'ruby',
  php: 'php',
  sql: 'sql',
  html: 'html',
  css: 'css',
  json: 'json',
  yaml: 'yaml',
  yml: 'yaml',
  toml: 'toml',
  ini: 'ini',
  cfg: 'ini',
  md: 'markdown',
  rst: 'text',
  txt: 'text',
  csv: 'data',
  service: 'systemd',
};

/** Languages whose files make a folder without a manifest a "loose script folder". */
const SCRIPT_LANGUAGES = new Set([
  'python',
  'javascript',
  'typescript',
  'shell',
  'go',
  'ruby',
  'php',
]);

/** `Dockerfile`, `Makefile` and friends have no extension but a known language. */
const BY_NAME: Record<string, string> = {
  Dockerfile: 'docker',
  Makefile: 'make',
  'docker-compose.yml': 'compose',
  'docker-compose.yaml': 'compose',
  'compose.yaml': 'compose',
};

export function languageOf(name: string): string {
  const known = BY_NAME[name];
  if (known) return known;
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return 'other';
  return LANGUAGES[name.slice(dot + 1).toLowerCase()] ?? 'other';
}

export function isScript(name: string): boolean {
  return SCRIPT_LANGUAGES.has(languageOf(name));
}

/**
 * Files that hold credentials by convention. The scan lists them by name and never opens them,
 * so no byte of theirs (not even a hash, which a short secret would not survive) leaves the node.
 */
export function isSecretFile(name: string): boolean {
  // A `.env.example` is documentation: it says which variables a project wants.
  if (/^\.env\.(example|sample|template|dist)$/.test(name)) return false;
  return (
    name === '.env' ||
    name.startsWith('.env.') ||
    /\.(pem|key|p12|pfx|keystore)$/i.test(name) ||
    /^id_(rsa|dsa|ecdsa|ed25519)$/.test(name) ||
    ['.netrc', '.npmrc', '.pypirc', '.git-credentials', 'credentials.json'].includes(name)
  );
}

/** Files whose presence makes a folder a project of that kind. */
export function projectKindOf(name: string, isDir: boolean): 'git' | 'python' | 'node' | undefined {
  if (name === '.git') return 'git';
  if (isDir) return undefined;
  if (name === 'pyproject.toml' || name === 'setup.py' || /^requirements.*\.txt$/.test(name))
    return 'python';
  if (name === 'package.json') return 'node';
  return undefined;
}
