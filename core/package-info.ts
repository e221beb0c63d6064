import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding factorylm-edge's package.json, from source (tests) or from dist/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (
      existsSync(candidate) &&
      JSON.parse(readFileSync(candidate, 'utf8')).name === 'factorylm-edge'
    )
      return dir;
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(
        'cannot find the factorylm-edge package.json above ' + fileURLToPath(import.meta.url),
      );
    dir = parent;
  }
}

export function packageVersion(): string {
  return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version as string;
}
