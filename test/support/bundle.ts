import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type BundlePlatform = 'linux-x64' | 'linux-arm64';

/** bundle.sh's cache (runtimes, production node_modules, compiled addons) and the test bundles. */
export const BUNDLE_CACHE =
  process.env.FACTORYLM_BUNDLE_CACHE ?? resolve('node_modules/.cache/factorylm-bundle');

/**
 * The offline bundle for a platform, built by deploy/bundle/bundle.sh once per test run: it is
 * rebuilt only when dist/, what deploy/ puts in it or the lockfile changed since (`npm test` rebuilds dist/
 * first), and test files asking at the same time wait for one build under a lock.
 */
export async function offlineBundle(platform: BundlePlatform): Promise<string> {
  const out = join(BUNDLE_CACHE, 'test-bundles');
  const script = `
    set -euo pipefail
    mkdir -p "$OUT"
    exec 8>"$OUT/.lock-$PLATFORM"
    flock 8
    tar=$(ls -t "$OUT"/factorylm-edge-*-"$PLATFORM".tar.gz 2>/dev/null | head -1 || true)
    if [ -n "$tar" ] && [ -z "$(find dist deploy package-lock.json -newer "$tar" ! -path 'deploy/ansible/*' ! -path 'deploy/compose/*' -print -quit)" ]; then
      echo "$tar"
    else
      # bundle.sh renames the new archive into place: a test still reading the old one goes on.
      FACTORYLM_BUNDLE_GZIP=1 FACTORYLM_BUNDLE_CACHE="$CACHE" bash deploy/bundle/bundle.sh --platform "$PLATFORM" --out "$OUT"
    fi`;
  const { stdout } = await run('bash', ['-c', script], {
    env: { ...process.env, OUT: out, PLATFORM: platform, CACHE: BUNDLE_CACHE },
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout.trim().split('\n').at(-1)!;
}
