import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A throwaway root for `install.sh --prefix`: a fresh Debian's account files (root, and group
 * dialout as 20) and login.defs, so the real useradd/usermod/userdel work on it.
 */
export function makeThrowawayRoot(root: string): void {
  mkdirSync(join(root, 'etc'), { recursive: true });
  const etc = (f: string) => join(root, 'etc', f);
  writeFileSync(etc('passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  writeFileSync(etc('group'), 'root:x:0:\ndialout:x:20:\n');
  writeFileSync(etc('shadow'), 'root:*:19000:0:99999:7:::\n');
  writeFileSync(etc('gshadow'), 'root:*::\ndialout:*::\n');
  chmodSync(etc('shadow'), 0o640);
  copyFileSync('/etc/login.defs', etc('login.defs'));
}

/**
 * A `systemctl` stand-in in `binDir` (no systemd runs in a container): appends each call to
 * `$SYSTEMCTL_LOG` (default `<binDir>/systemctl.log`); with `FAIL_RESTART=1`, `restart` fails
 * like a unit that does not start.
 */
export function makeFakeSystemctl(binDir: string): void {
  mkdirSync(binDir, { recursive: true });
  const file = join(binDir, 'systemctl');
  writeFileSync(
    file,
    [
      '#!/bin/sh',
      `echo "$*" >> "\${SYSTEMCTL_LOG:-${binDir}/systemctl.log}"`,
      'if [ "$1" = restart ] && [ "${FAIL_RESTART:-}" = 1 ]; then exit 1; fi',
      'exit 0',
      '',
    ].join('\n'),
  );
  chmodSync(file, 0o755);
}
