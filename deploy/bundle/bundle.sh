#!/usr/bin/env bash
# Builds an offline install bundle for one platform:
#   factorylm-edge-<version>-<platform>.tar.gz  (+ .sha256 beside it)
# holding the built app, production node_modules with the native addons for that platform, a
# Node 24 runtime for that platform, bin/factorylm, install.sh, the units, examples and Grafana
# files, BUNDLE.json and MANIFEST.sha256. Nothing is downloaded when the bundle is installed.
#
# Usage: npm run bundle -- --platform linux-x64|linux-arm64 [--out DIR]
# Needs (here, not on the target): the npm registry, g++ and make; for linux-arm64 Debian's
# crossbuild-essential-arm64. See deploy/bundle/README.md.
set -euo pipefail

# The runtime shipped in every bundle: Node 24 LTS from the registry's node-linux-<cpu> packages.
NODE_VERSION=${FACTORYLM_NODE_VERSION:-24.22.3}

die() {
  echo "bundle: $*" >&2
  exit 1
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
platform=""
out="$root/bundles"
while [ $# -gt 0 ]; do
  case "$1" in
    --platform) platform=${2:-}; shift 2 ;;
    --platform=*) platform=${1#*=}; shift ;;
    --out) out=${2:-}; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    -h | --help)
      sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done

case "$platform" in
  linux-x64) cpu=x64 dpkg_arch=amd64 cross="" ;;
  linux-arm64) cpu=arm64 dpkg_arch=arm64 cross=aarch64-linux-gnu- ;;
  linux-armv7l | linux-armhf)
    die "no Node 24 runtime exists for 32-bit ARM (armhf): install 64-bit Raspberry Pi OS and use --platform linux-arm64"
    ;;
  "") die "--platform is required: linux-x64 or linux-arm64" ;;
  *) die "unknown platform '$platform': use linux-x64 or linux-arm64" ;;
esac
if [ -n "$cross" ] && ! command -v "${cross}g++" >/dev/null; then
  die "${cross}g++ not found: apt-get install crossbuild-essential-arm64"
fi
[ -f "$root/dist/cli/main.js" ] || die "dist/ is missing: run npm run build first"

version=$(node -p "require('$root/package.json').version")
name="factorylm-edge-$version-$platform"
# Runtimes, production node_modules and compiled addons are kept between runs, keyed by what
# makes them (versions, lockfile hash, platform).
cache=${FACTORYLM_BUNDLE_CACHE:-$root/node_modules/.cache/factorylm-bundle}
mkdir -p "$cache" "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step() { echo "bundle [$platform]: $*" >&2; }

# An entry of the cache is made in a temporary folder and renamed into place, so a run that is
# interrupted never leaves a half-made entry behind; a lock per entry makes a second run at the
# same time wait for the first and reuse its work (two platforms still build side by side).
publish() { mv -T "$1" "$2" 2>/dev/null || rm -rf "$1"; }
lock() {
  exec 9>"$cache/.lock-$1"
  flock 9
}
unlock() { flock -u 9; }

# 1. The Node runtime for the target CPU (binary and headers, from the npm registry).
runtime="$cache/node-linux-$cpu-$NODE_VERSION"
lock "node-$cpu"
if [ ! -x "$runtime/bin/node" ]; then
  step "fetching node-linux-$cpu@$NODE_VERSION from the npm registry"
  (cd "$work" && npm pack --silent "node-linux-$cpu@$NODE_VERSION" >/dev/null)
  mkdir "$work/runtime"
  tar xzf "$work/node-linux-$cpu-$NODE_VERSION.tgz" -C "$work/runtime" --strip-components=1
  publish "$work/runtime" "$runtime"
fi
unlock

# 2. Production dependencies from the lockfile, without install scripts (the addons come next).
# The lockfile alone decides the tree (a changed script in package.json does not).
lock_hash=$(sha256sum <"$root/package-lock.json" | cut -c1-16)
prod="$cache/prod-$lock_hash"
lock prod
if [ ! -d "$prod/node_modules" ]; then
  step "npm ci --omit=dev (lockfile $lock_hash)"
  mkdir "$work/prod"
  cp "$root/package.json" "$root/package-lock.json" "$work/prod/"
  (cd "$work/prod" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error >&2)
  publish "$work/prod" "$prod"
fi
unlock

# 3. better-sqlite3 compiled for Node 24 on the target CPU (cross-compiled for arm64) against
#    the headers of the runtime above. It has no Node 24 prebuild we could fetch offline.
sqlite_version=$(node -p "require('$prod/node_modules/better-sqlite3/package.json').version")
addon="$cache/better-sqlite3-$sqlite_version-node$NODE_VERSION-$platform.node"
lock "addon-$platform"
if [ ! -f "$addon" ]; then
  step "compiling better-sqlite3 $sqlite_version for Node $NODE_VERSION on $platform"
  cp -r "$prod/node_modules/better-sqlite3" "$work/better-sqlite3"
  npm_dir=$(dirname "$(readlink -f "$(command -v npm)")")/..
  gyp="$npm_dir/node_modules/node-gyp/bin/node-gyp.js"
  [ -f "$gyp" ] || die "node-gyp not found beside npm ($gyp)"
  (
    cd "$work/better-sqlite3"
    if [ -n "$cross" ]; then
      export CC=${cross}gcc CXX=${cross}g++ LINK=${cross}g++ AR=${cross}ar
    fi
    # Under `npm test` or `npm run`, npm exports its config as npm_config_* (nodedir=/usr here:
    # Node 20's headers), and node-gyp lets those override the flags below: the addon came out
    # built for Node 20. Only the flags may decide.
    for v in $(env | sed -n 's/^\(npm_config_[A-Za-z_]*\)=.*/\1/p'); do unset "$v"; done
    node "$gyp" rebuild --release --arch="$cpu" --nodedir="$runtime" \
      --jobs="${FACTORYLM_BUNDLE_JOBS:-$(nproc)}" >"$work/gyp.log" 2>&1
  ) || {
    tail -20 "$work/gyp.log" >&2
    die "compiling better-sqlite3 failed (log above)"
  }
  cp "$work/better-sqlite3/build/Release/better_sqlite3.node" "$work/addon.node"
  publish "$work/addon.node" "$addon"
fi
unlock

# 4. The bundle's tree.
step "assembling $name"
b="$work/$name"
mkdir -p "$b/app" "$b/runtime/bin" "$b/bin" "$b/deploy"
cp "$root/package.json" "$root/package-lock.json" "$b/app/"
# The app without tests, benches and source maps.
(cd "$root" && find dist -type f -name '*.js' ! -name '*.test.js' \
  ! -path 'dist/test/*' ! -path 'dist/bench/*' -print0 |
  tar cf - --null -T - | tar xf - -C "$b/app")
mkdir -p "$b/app/gateway"
cp -r "$root/gateway/web" "$b/app/gateway/web"
cp -a "$prod/node_modules" "$b/app/node_modules"
sq="$b/app/node_modules/better-sqlite3"
mkdir -p "$sq/build/Release"
cp "$addon" "$sq/build/Release/better_sqlite3.node"
# SQLite's sources (10 MB) are only for building.
rm -rf "$sq/deps" "$sq/src"
# @serialport/bindings-cpp ships N-API prebuilds for every OS and CPU; node-gyp-build picks the
# right one at run time, so keep only this platform's.
pre="$b/app/node_modules/@serialport/bindings-cpp/prebuilds"
[ -d "$pre/$platform" ] || die "@serialport/bindings-cpp has no prebuild for $platform"
find "$pre" -mindepth 1 -maxdepth 1 ! -name "$platform" -exec rm -rf {} +
cp "$runtime/bin/node" "$b/runtime/bin/node"
cp "$runtime/LICENSE" "$b/runtime/LICENSE"
cp "$root/deploy/bundle/factorylm" "$b/bin/factorylm"
cp "$root/deploy/install.sh" "$b/install.sh"
chmod 755 "$b/bin/factorylm" "$b/install.sh" "$b/runtime/bin/node"
cp -r "$root/deploy/systemd" "$root/deploy/examples" "$root/deploy/grafana" "$b/deploy/"
cp "$root/deploy/README.md" "$b/deploy/README.md"
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
cat >"$b/BUNDLE.json" <<EOF
{
  "name": "factorylm-edge",
  "version": "$version",
  "platform": "$platform",
  "dpkgArchitecture": "$dpkg_arch",
  "node": "$NODE_VERSION",
  "betterSqlite3": "$sqlite_version",
  "commit": "$commit",
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
EOF
(cd "$b" && find . -type f ! -name MANIFEST.sha256 -printf '%P\0' | sort -z |
  xargs -0 sha256sum >MANIFEST.sha256)

# 5. The archive and its checksum (install.sh checks it before unpacking anything).
step "writing $out/$name.tar.gz"
# BUNDLE.json and MANIFEST.sha256 come first, so install.sh reads them (version, CPU) without
# unpacking the rest. FACTORYLM_BUNDLE_GZIP=1 halves the time for about 15 % more bytes.
(
  cd "$work"
  printf '%s\0' "$name/BUNDLE.json" "$name/MANIFEST.sha256"
  find "$name" ! -path "$name/BUNDLE.json" ! -path "$name/MANIFEST.sha256" -print0 | sort -z
) | tar cf - -C "$work" --owner=0 --group=0 --null --no-recursion -T - |
  gzip "-${FACTORYLM_BUNDLE_GZIP:-6}" >"$work/$name.tar.gz"
mv "$work/$name.tar.gz" "$out/$name.tar.gz"
(cd "$out" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
echo "$out/$name.tar.gz"
