import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The plant's "code copied, not imported" in miniature: project alpha (a package with a console
 * script, run by a systemd unit), beta with one of alpha's modules pasted in and another pasted
 * then renamed, gamma importing alpha properly, and a script folder nothing runs.
 */
export const CORE = `"""Motor diagnostics."""
import math
from .util import clamp


def compute(speed, current, temperature):
    load = speed * current / 1000.0
    if temperature > 80:
        load = load * 1.25
    score = math.sqrt(load) + clamp(temperature, 0, 120) / 10
    for i in range(3):
        score = score + i * 0.5
    return {"load": load, "score": score, "alarm": score > 12}
`;

export const UTIL = `def clamp(value, low, high):
    if value < low:
        return low
    if value > high:
        return high
    return value


def average(values):
    total = 0
    count = 0
    for v in values:
        total = total + v
        count = count + 1
    return total / count if count else 0
`;

/** UTIL pasted, then every name changed: a type-2 clone. */
export const UTIL_RENAMED = `def bound(x, lo, hi):
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def mean(samples):
    acc = 0
    n = 0
    for s in samples:
        acc = acc + s
        n = n + 1
    return acc / n if n else 0
`;

/** The workspace, relative to its root (`opt`). */
export const CODE_TWIN_FILES: Record<string, string> = {
  'alpha/pyproject.toml':
    '[project]\nname = "alpha"\nversion = "1.0.0"\n\n[project.scripts]\nalpha = "alpha.cli:main"\n',
  'alpha/alpha/__init__.py': '',
  'alpha/alpha/cli.py':
    'import sys\nfrom alpha.core import compute\n\n\ndef main():\n    print(compute(1450, 52, 71))\n    return 0\n',
  'alpha/alpha/core.py': CORE,
  'alpha/alpha/util.py': UTIL,
  'alpha/alpha/old_report.py': 'import csv\n\n\ndef export(rows):\n    return len(rows)\n',
  'alpha/tests/test_core.py':
    'from alpha.core import compute\n\n\ndef test_compute():\n    assert compute(0, 0, 0)["load"] == 0\n',
  // An import-shaped docstring and string: a regex scanner would see imports here.
  'alpha/alpha/notes.py': '"""\nimport fake_module\n"""\nTEXT = "from nowhere import x"\n',
  'beta/requirements.txt': 'requests\n',
  'beta/main.py':
    'import requests\nfrom core_copy import compute\nfrom tools import bound\n\nif __name__ == "__main__":\n    print(compute(1, 2, 3), bound(5, 0, 3))\n',
  'beta/core_copy.py': CORE.replace('from .util import clamp', 'from tools import bound as clamp'),
  'beta/tools.py': UTIL_RENAMED,
  'beta/legacy.py': 'print "python 2"\nexcept Exception, e:\n    pass\n',
  'gamma/requirements.txt': 'alpha\n',
  'gamma/run.py': 'from alpha.core import compute\n\nprint(compute(1, 2, 3))\n',
  'gamma/missing.py': 'import not_installed_anywhere\n',
  'scratch/oneoff.py': 'import os\n\nif __name__ == "__main__":\n    print(os.getcwd())\n',
};

export interface CodeTwinFixture {
  /** The folder to scan. */
  root: string;
  /** Absolute path of a fixture file or project. */
  at: (rel: string) => string;
  /** systemd unit folder holding alpha.service. */
  units: string;
  /** Environment for the CLI: a PATH whose systemctl reports alpha.service active. */
  env: NodeJS.ProcessEnv;
}

/**
 * Writes the workspace under `tmp/opt`, a systemd unit running alpha's console script, and a
 * systemctl that answers `show` as systemd does for it (no systemd in this container).
 */
export function writeCodeTwinFixture(tmp: string): CodeTwinFixture {
  const root = join(tmp, 'opt');
  const at = (rel: string) => join(root, rel);
  for (const [rel, text] of Object.entries(CODE_TWIN_FILES)) {
    mkdirSync(dirname(at(rel)), { recursive: true });
    writeFileSync(at(rel), text);
  }
  const units = join(tmp, 'units');
  mkdirSync(units);
  writeFileSync(
    join(units, 'alpha.service'),
    `[Service]\nWorkingDirectory=${at('alpha')}\nExecStart=/usr/bin/python3 -m alpha.cli\n`,
  );
  const bin = join(tmp, 'bin');
  mkdirSync(bin);
  writeFileSync(
    join(bin, 'systemctl'),
    '#!/bin/sh\nprintf "Id=alpha.service\\nActiveState=active\\n"\n',
  );
  chmodSync(join(bin, 'systemctl'), 0o755);
  return { root, at, units, env: { PATH: `${bin}:${process.env.PATH}` } };
}
