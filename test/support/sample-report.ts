import type { InventoryReport } from '../../inventory/report.js';

/**
 * A valid inventory report of one project with `files` files (1 byte each, hashes derived
 * from `fingerprint` so equal fingerprints mean equal content), for unit tests.
 */
export function sampleReport(
  node = 'edge-01',
  { scannedAt = 1, files = 1, fingerprint = 'f' } = {},
): InventoryReport {
  return {
    schema: 1,
    node: { name: node, hostname: node, os: 'Linux', arch: 'x64', version: '0.1.0' },
    scannedAt,
    durationMs: 2,
    roots: ['/opt'],
    maxFileBytes: 100,
    projects: [
      {
        path: '/opt/app',
        name: 'app',
        kinds: ['python'],
        files,
        bytes: files,
        languages: {},
        fingerprint,
        entries: Array.from({ length: files }, (_, i) => [
          `f${i}.py`,
          `${fingerprint}${i}`.padStart(32, '0'),
          1,
        ]),
        secrets: [],
        tooLarge: 0,
        unreadable: [],
        modifiedAt: 0,
      },
    ],
    services: [],
    systemd: 'ok',
    containers: [],
    images: [],
    docker: 'absent',
    stats: {
      files,
      bytes: files,
      hashed: files,
      cached: 0,
      tooLarge: 0,
      unreadable: 0,
      ignored: 0,
      symlinks: 0,
      outsideProjects: 0,
    },
  };
}
