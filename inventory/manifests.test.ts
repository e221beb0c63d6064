import { describe, expect, it } from 'vitest';
import { parsePackageJson, parsePyproject, parseRequirements, parseSetupPy } from './manifests.js';

describe('manifest parsers', () => {
  it.each([
    [
      'PEP 621 with a multi-line dependency array',
      '[project]\nname = "rivet-pro"\nversion = "1.2.0"\ndependencies = [\n  "requests>=2",\n  \'celery[redis]==5.3\',\n]\n[tool.ruff]\nname = "not-this"\n',
      { name: 'rivet-pro', version: '1.2.0', dependencies: ['requests', 'celery'] },
    ],
    [
      'Poetry',
      '[tool.poetry]\nname = "bot"\nversion = "0.1.0"\n\n[tool.poetry.dependencies]\npython = "^3.11"\nfastapi = "^0.110"\n"Flask" = "*"\n',
      { name: 'bot', version: '0.1.0', dependencies: ['fastapi', 'flask'] },
    ],
    ['empty', '', { dependencies: [] }],
  ])('pyproject: %s', (_name, text, expected) => {
    expect(parsePyproject(text)).toEqual(expected);
  });

  it.each([
    [
      'requests==2.31\n# c\n-r base.txt\n--hash sha256:x\nnumpy>=1 ; python_version > "3"\nPyYAML  # inline\n\n',
      ['requests', 'numpy', 'pyyaml'],
    ],
    ['', []],
  ])('requirements %#', (text, expected) => {
    expect(parseRequirements(text)).toEqual(expected);
  });

  it('setup.py literals', () => {
    expect(
      parseSetupPy(
        'setup(\n  name="plc",\n  version=\'2.0\',\n  install_requires=["pymodbus>=3", "pyyaml"],\n)',
      ),
    ).toEqual({ name: 'plc', version: '2.0', dependencies: ['pymodbus', 'pyyaml'] });
  });

  it.each([
    [
      '{"name":"a","version":"1.0.0","dependencies":{"x":"1"},"devDependencies":{"y":"2"}}',
      { name: 'a', version: '1.0.0', dependencies: ['x', 'y'] },
    ],
    ['{not json', { dependencies: [] }],
    ['[]', { name: undefined, version: undefined, dependencies: [] }],
  ])('package.json %#', (text, expected) => {
    expect(parsePackageJson(text)).toEqual(expected);
  });
});
