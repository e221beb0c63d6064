#!/usr/bin/env bash
# Installs, upgrades, rolls back or removes FactoryLM Edge from an offline bundle
# (factorylm-edge-<version>-<platform>.tar.gz, made by `npm run bundle`), on Debian 12 or
# Raspberry Pi OS bookworm. Nothing is downloaded.
#
#   sudo ./install.sh [--agent] [--gateway] [--agent-config FILE] [--gateway-config FILE] BUNDLE
#   sudo ./install.sh --rollback
#   sudo ./install.sh --uninstall [--purge]
#
#   --agent, --gateway     enable and (re)start that service; an upgrade keeps those already on
#   --agent-config FILE    copied to /etc/factorylm/agent.yaml unless that file exists (config
#   --gateway-config FILE  is never overwritten; edit it there)
#   --rollback             switch back to the version that ran before the last upgrade
#   --uninstall            stop and remove the services and /opt/factorylm; config and data stay
#   --purge                with --uninstall: remove /etc/factorylm, the data and the user too
#   --prefix DIR           work under DIR instead of / (tests, image builds); systemctl is still
#                          called, so put a stand-in first in PATH there
#   --no-start             install and enable, but do not (re)start the services
#
# Layout: /opt/factorylm/<version> with a `current` symlink (and `previous`), config in
# /etc/factorylm, data in /var/lib/factorylm (agent) and /var/lib/factorylm-gateway, units in
# /etc/systemd/system, journald caps in /etc/systemd/journald.conf.d/factorylm.conf.
# Any check that fails stops before the running version is touched. See deploy/README.md.
set -euo pipefail
umask 022

die() {
  echo "install.sh: $*" >&2
  exit 1
}
say() { echo "install.sh: $*"; }

mode=install bundle="" prefix="" purge=0 start=1 incoming=""
want_agent=0 want_gateway=0 agent_config="" gateway_config=""
while [ $# -gt 0 ]; do
  case "$1" in
    --agent) want_agent=1 ;;
    --gateway) want_gateway=1 ;;
    --agent-config) agent_config=${2:?--agent-config needs a file}; shift ;;
    --gateway-config) gateway_config=${2:?--gateway-config needs a file}; shift ;;
    --rollback) mode=rollback ;;
    --uninstall) mode=uninstall ;;
    --purge) purge=1 ;;
    --prefix) prefix=${2:?--prefix needs a folder}; shift ;;
    --no-start) start=0 ;;
    -h | --help)
      sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *)
      [ -z "$bundle" ] || die "one bundle at a time ('$bundle' and '$1')"
      bundle=$1
      ;;
  esac
  shift
done
prefix=${prefix%/}
[ "$(id -u)" = 0 ] || die "run it as root (sudo $0 …)"

OPT="$prefix/opt/factorylm"
ETC="$prefix/etc/factorylm"
UNITS="$prefix/etc/systemd/system"
JOURNALD="$prefix/etc/systemd/journald.conf.d/factorylm.conf"
DATA_AGENT="$prefix/var/lib/factorylm"
DATA_GATEWAY="$prefix/var/lib/factorylm-gateway"
LINK="$prefix/usr/local/bin/factorylm"
USER_NAME=factorylm
# useradd/usermod/userdel write the account files under --prefix (shadow's own option).
user_opts=()
[ -z "$prefix" ] || user_opts=(--prefix "$prefix")

require_systemd() {
  command -v systemctl >/dev/null ||
    die "systemd is missing (no systemctl): this installer needs Debian 12 or Raspberry Pi OS with systemd; nothing was changed"
  if [ -z "$prefix" ] && [ ! -d /run/systemd/system ]; then
    die "systemd is not running here (a container or chroot?): install on the host itself; nothing was changed"
  fi
}

# The roles already installed: an upgrade or a rollback restarts them.
installed_roles() {
  local r
  for r in agent gateway; do [ -f "$UNITS/factorylm-$r.service" ] && echo "$r"; done
  return 0
}

restart_roles() {
  local r
  systemctl daemon-reload
  for r in "$@"; do
    systemctl enable "factorylm-$r.service"
    if [ "$start" = 1 ]; then systemctl restart "factorylm-$r.service" || return 1; fi
  done
}

# Points `current` at $1 (a version folder), atomically.
switch_to() {
  ln -sfn "$1" "$OPT/.current.tmp"
  mv -T "$OPT/.current.tmp" "$OPT/current"
}

uid_of() { awk -F: -v u="$1" '$1 == u { print $3 }' "$prefix/etc/passwd"; }
gid_of() { awk -F: -v g="$1" '$1 == g { print $3 }' "$prefix/etc/group"; }

dpkg_architecture() {
  if command -v dpkg >/dev/null; then
    dpkg --print-architecture
  else
    # Without dpkg (not Debian): the kernel's CPU, which on a 32-bit userland says aarch64 too.
    case "$(uname -m)" in x86_64) echo amd64 ;; aarch64) echo arm64 ;; *) uname -m ;; esac
  fi
}

# A value of BUNDLE.json (flat, one "key": "value" a line, written by bundle.sh).
bundle_field() { sed -n "s/^ *\"$1\": \"\\(.*\\)\",\\{0,1\\}\$/\\1/p" "$2"; }

# Validates a config with the given version's own CLI, with the service's env file loaded.
validate_config() {
  local dir=$1 role=$2 file="$ETC/$2.yaml" envfile="$ETC/$2.env" out
  [ -f "$file" ] ||
    die "no $file: pass --$role-config FILE (examples: $dir/deploy/examples/); the running version is untouched"
  if ! out=$(
    set -a
    # shellcheck disable=SC1090
    [ ! -f "$envfile" ] || . "$envfile"
    set +a
    "$dir/bin/factorylm" config validate "$file" --kind "$role" 2>&1
  ); then
    die "$file does not validate, so nothing was switched or restarted: $(echo "$out" | tr '\n' ' ')"
  fi
}

uses_serial() { [ -f "$ETC/agent.yaml" ] && grep -Eq '/dev/tty' "$ETC/agent.yaml"; }

install_units() {
  local dir=$1 r
  shift
  mkdir -p "$UNITS"
  for r in "$@"; do
    install -m 644 "$dir/deploy/systemd/factorylm-$r.service" "$UNITS/factorylm-$r.service"
  done
  if [[ " $* " == *" agent "* ]] && uses_serial; then
    mkdir -p "$UNITS/factorylm-agent.service.d"
    install -m 644 "$dir/deploy/systemd/factorylm-agent.service.d/serial.conf" \
      "$UNITS/factorylm-agent.service.d/serial.conf"
    usermod "${user_opts[@]}" -a -G dialout "$USER_NAME"
    say "serial port in agent.yaml: $USER_NAME is in group dialout, serial drop-in installed"
  else
    rm -f "$UNITS/factorylm-agent.service.d/serial.conf"
    rmdir "$UNITS/factorylm-agent.service.d" 2>/dev/null || true
  fi
}

# Journald caps: an SD card wears out under a journal that is never trimmed.
install_journald_caps() {
  local want
  want='# FactoryLM Edge (install.sh): cap the journal so it cannot fill or wear out an SD card.
[Journal]
SystemMaxUse=200M
SystemMaxFileSize=20M
RuntimeMaxUse=50M
MaxRetentionSec=1month
# Write to disk at most every 5 minutes, except errors and worse, which go at once.
SyncIntervalSec=5m'
  if [ ! -f "$JOURNALD" ] || [ "$(cat "$JOURNALD")" != "$want" ]; then
    mkdir -p "$(dirname "$JOURNALD")"
    printf '%s\n' "$want" >"$JOURNALD"
    systemctl try-restart systemd-journald.service || true
  fi
}

do_install() {
  local base version arch here dir previous roles=() r
  [ -n "$bundle" ] || die "which bundle? $0 [--agent] [--gateway] factorylm-edge-<version>-<platform>.tar.gz"
  [ -f "$bundle" ] || die "bundle $bundle not found"
  require_systemd
  base=$(basename "$bundle")
  # 1. The archive is whole: its checksum file, or else gzip's own check.
  if [ -f "$bundle.sha256" ]; then
    (cd "$(dirname "$bundle")" && sha256sum --quiet -c "$base.sha256" >/dev/null 2>&1) ||
      die "$base does not match $base.sha256 (corrupt or truncated copy): copy it again; nothing was changed"
  else
    say "no $base.sha256 beside the bundle: checking the archive's own integrity only"
    gzip -t "$bundle" 2>/dev/null ||
      die "$base is corrupt or truncated (gzip check failed): copy it again; nothing was changed"
  fi
  mkdir -p "$OPT"
  incoming=$(mktemp -d "$OPT/.incoming.XXXXXX")
  trap 'rm -rf "$incoming"' EXIT
  chmod 755 "$incoming"
  # 2. What it is, from the two files at the head of the archive (bundle.sh puts them first).
  tar xzf "$bundle" -C "$incoming" --strip-components=1 --no-same-owner --wildcards \
    --occurrence=1 '*/BUNDLE.json' '*/MANIFEST.sha256' 2>/dev/null ||
    die "$base is not a FactoryLM Edge bundle (no BUNDLE.json and MANIFEST.sha256 at its head)"
  version=$(bundle_field version "$incoming/BUNDLE.json")
  arch=$(bundle_field dpkgArchitecture "$incoming/BUNDLE.json")
  [[ "$version" =~ ^[0-9A-Za-z.+-]+$ ]] || die "$base has no valid version in BUNDLE.json"
  # The right CPU. dpkg, not uname: a 32-bit Raspberry Pi OS on a 64-bit kernel says aarch64.
  here=$(dpkg_architecture)
  if [ "$here" = armhf ] || [ "$here" = armel ]; then
    die "this is a 32-bit ARM system ($here) and Node 24 has no 32-bit ARM build: install Raspberry Pi OS (64-bit), then the linux-arm64 bundle; nothing was changed"
  fi
  [ "$here" = "$arch" ] ||
    die "$base is for $arch but this machine is $here: use the bundle for $here; nothing was changed"
  # 3. The version folder: an intact identical one is kept, so a re-install changes nothing.
  dir="$OPT/$version"
  if [ -d "$dir" ] && cmp -s "$dir/MANIFEST.sha256" "$incoming/MANIFEST.sha256" &&
    (cd "$dir" && sha256sum --quiet -c MANIFEST.sha256 >/dev/null 2>&1); then
    say "$version is already unpacked and intact"
  else
    tar xzf "$bundle" -C "$incoming" --strip-components=1 --no-same-owner ||
      die "$base could not be unpacked (truncated?): copy it again; nothing was changed"
    (cd "$incoming" && sha256sum --quiet -c MANIFEST.sha256 >/dev/null 2>&1) ||
      die "$base has files that do not match its MANIFEST.sha256: rebuild or copy it again; nothing was changed"
    "$incoming/bin/factorylm" --version >/dev/null 2>&1 ||
      die "the bundle's Node runtime does not run on this machine ($here): nothing was changed"
    rm -rf "$dir.old"
    [ ! -d "$dir" ] || mv "$dir" "$dir.old"
    mv "$incoming" "$dir"
    rm -rf "$dir.old"
  fi
  # 4. User, config, data.
  if [ -z "$(uid_of "$USER_NAME")" ]; then
    useradd "${user_opts[@]}" --system --user-group --home-dir /var/lib/factorylm \
      --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
    say "created system user $USER_NAME"
  fi
  local uid gid
  uid=$(uid_of "$USER_NAME") gid=$(gid_of "$USER_NAME")
  install -d -m 750 -o 0 -g "$gid" "$ETC"
  install -d -m 755 "$ETC/examples"
  cp "$dir"/deploy/examples/*.yaml "$ETC/examples/"
  for r in agent gateway; do
    local given
    [ "$r" = agent ] && given=$agent_config || given=$gateway_config
    if [ -n "$given" ]; then
      [ -f "$given" ] || die "--$r-config $given not found"
      if [ -f "$ETC/$r.yaml" ]; then
        cmp -s "$given" "$ETC/$r.yaml" ||
          say "keeping the existing $ETC/$r.yaml (config is never overwritten); $given was not copied"
      else
        install -m 640 -o 0 -g "$gid" "$given" "$ETC/$r.yaml"
      fi
    fi
    # Secrets: read by systemd as root before it drops privileges.
    [ -f "$ETC/$r.env" ] || install -m 600 -o 0 -g 0 /dev/null "$ETC/$r.env"
  done
  install -d -m 750 -o "$uid" -g "$gid" "$DATA_AGENT" "$DATA_GATEWAY"
  # 5. Which services: those asked for plus those already installed.
  [ "$want_agent" = 0 ] || roles+=(agent)
  [ "$want_gateway" = 0 ] || roles+=(gateway)
  for r in $(installed_roles); do [[ " ${roles[*]} " == *" $r "* ]] || roles+=("$r"); done
  for r in "${roles[@]}"; do validate_config "$dir" "$r"; done
  # 6. Switch, then restart; a version that does not start is switched back.
  previous=$(readlink "$OPT/current" 2>/dev/null || true)
  local before_previous
  before_previous=$(readlink "$OPT/previous" 2>/dev/null || true)
  install_units "$dir" "${roles[@]}"
  install_journald_caps
  switch_to "$version"
  if [ -n "$previous" ] && [ "$previous" != "$version" ]; then
    ln -sfn "$previous" "$OPT/previous"
  fi
  mkdir -p "$(dirname "$LINK")"
  ln -sfn /opt/factorylm/current/bin/factorylm "$LINK"
  if ! restart_roles "${roles[@]}"; then
    if [ -n "$previous" ] && [ "$previous" != "$version" ]; then
      switch_to "$previous"
      if [ -n "$before_previous" ]; then ln -sfn "$before_previous" "$OPT/previous"; else rm -f "$OPT/previous"; fi
      restart_roles "${roles[@]}" || true
      die "$version did not start (journalctl -u factorylm-${roles[0]}): switched back to $previous"
    fi
    die "$version did not start: see journalctl -u factorylm-${roles[0]}"
  fi
  say "installed $version (${roles[*]:-no service enabled}); rollback goes to: $(readlink "$OPT/previous" 2>/dev/null || echo none)"
}

do_rollback() {
  local current previous roles
  require_systemd
  current=$(readlink "$OPT/current" 2>/dev/null || true)
  previous=$(readlink "$OPT/previous" 2>/dev/null || true)
  [ -n "$previous" ] && [ -d "$OPT/$previous" ] ||
    die "no previous version to roll back to (only ${current:-nothing} is installed)"
  mapfile -t roles < <(installed_roles)
  for r in "${roles[@]}"; do validate_config "$OPT/$previous" "$r"; done
  switch_to "$previous"
  ln -sfn "$current" "$OPT/previous"
  restart_roles "${roles[@]}" || die "$previous did not start after the rollback: see journalctl"
  say "rolled back from $current to $previous"
}

do_uninstall() {
  local r
  require_systemd
  for r in agent gateway; do
    if [ -f "$UNITS/factorylm-$r.service" ]; then
      systemctl disable --now "factorylm-$r.service" || true
    fi
    rm -rf "$UNITS/factorylm-$r.service" "$UNITS/factorylm-$r.service.d"
  done
  systemctl daemon-reload
  rm -f "$JOURNALD"
  [ ! -L "$LINK" ] || rm -f "$LINK"
  rm -rf "$OPT"
  if [ "$purge" = 1 ]; then
    rm -rf "$ETC" "$DATA_AGENT" "$DATA_GATEWAY"
    [ -z "$(uid_of "$USER_NAME")" ] || userdel "${user_opts[@]}" "$USER_NAME"
    say "removed FactoryLM Edge, its config, data and user"
  else
    say "removed FactoryLM Edge; kept $ETC and the data in $DATA_AGENT, $DATA_GATEWAY (--purge removes them)"
  fi
}

case "$mode" in
  install) do_install ;;
  rollback) do_rollback ;;
  uninstall) do_uninstall ;;
esac
