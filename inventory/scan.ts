import { readFileSync, realpathSync } from 'node:fs';
import { arch, availableParallelism, hostname, release, type } from 'node:os';
import { basename } from 'node:path';
import { packageVersion } from '../core/package-info.js';
import { DEFAULT_DOCKER_SOCKET, dockerInventory } from './docker.js';
import { scanCode, type CodeScan } from './code/scan-code.js';
import { DEFAULT_CLONE_PARAMS } from './code/parse.js';
import { gitInfo } from './git.js';
import { HashCache } from './hash-cache.js';
import { HashPool } from './hash-pool.js';
import { parseIgnore } from './ignore.js';
import { parsePackageJson, parsePyproject, parseRequirements, parseSetupPy } from './manifests.js';
import { REPORT_SCHEMA_VERSION, type InventoryReport, type Project } from './report.js';
import { DEFAULT_UNIT_DIRS, systemdServices } from './systemd.js';
import { fingerprint, TreeWalker, type ProjectDraft } from './walk.js';

export interface ScanOptions {
  /** Folders to walk; none = services, containers and the node only. */
  roots: string[];
  /** Node name in the report (the agent's `node`); default the host name. */
  node?: string;
  site?: string;
  /** Files over this are listed with their size and not read, bytes; default 16 MiB. */
  maxFileBytes?: number;
  /** Extra ignore patterns (`.factorylmignore` syntax) for every root. */
  ignore?: string[];
  /** SQLite hash cache; `undefined` = hash everything every time. */
  cacheFile?: string;
  /** Folders of systemd unit files; default /etc/systemd/system. */
  unitDirs?: string[];
  dockerSocket?: string;
  /** Worker threads reading and hashing files; default one per core, at most 4. */
  hashWorkers?: number;
  /** Parse code files for imports, entry points and clone fingerprints; default true. */
  code?: boolean;
}

export const DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024;

function osName(): string {
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (pretty) return `${pretty[1]} (${type()} ${release()})`;
  } catch {
    // Not Linux, or no os-release: the kernel's name will do.
  }
  return `${type()} ${release()}`;
}

/** Roots as real paths, without duplicates or roots inside other roots. */
function normalizeRoots(roots: string[]): string[] {
  const real = [
    ...new Set(
      roots.map((r) => {
        try {
          // A root given as a link is followed: naming it is the user's choice.
          return realpathSync(r);
        } catch (err) {
          throw new Error(`cannot scan ${r}: ${(err as NodeJS.ErrnoException).code ?? err}`, {
            cause: err,
          });
        }
      }),
    ),
  ].sort();
  return real.filter(
    (r, i) => !real.slice(0, i).some((o) => r.startsWith(o === '/' ? o : o + '/')),
  );
}

/** The deepest project folder holding any of `paths`, tried in order. */
export function projectFor(
  paths: (string | undefined)[],
  projectPaths: string[],
): string | undefined {
  for (const p of paths) {
    if (!p?.startsWith('/')) continue;
    let best: string | undefined;
    for (const root of projectPaths)
      if ((p === root || p.startsWith(root + '/')) && (!best || root.length > best.length))
        best = root;
    if (best) return best;
  }
  return undefined;
}

/** Absolute paths on a command line: `/usr/bin/python3 /opt/app/main.py` → both. */
function commandPaths(command: string | undefined): string[] {
  return (command ?? '').split(/\s+/).filter((t) => t.startsWith('/'));
}

async function finish(draft: ProjectDraft, code: CodeScan | undefined): Promise<Project> {
  const m = draft.manifests;
  const py = [...m.keys()].filter((k) => k !== 'package.json').sort();
  const pyproject = m.has('pyproject.toml') ? parsePyproject(m.get('pyproject.toml')!) : undefined;
  const setupPy = m.has('setup.py') ? parseSetupPy(m.get('setup.py')!) : undefined;
  const pyInfo = [pyproject, setupPy].find((i) => i?.name || i?.version);
  const pyDeps = new Set([
    ...(pyproject?.dependencies ?? []),
    ...(setupPy?.dependencies ?? []),
    ...py.filter((k) => k.startsWith('requirements')).flatMap((k) => parseRequirements(m.get(k)!)),
  ]);
  const nodeInfo = m.has('package.json') ? parsePackageJson(m.get('package.json')!) : undefined;
  const git = draft.kinds.has('git') ? await gitInfo(draft.path) : undefined;
  const remoteName = git?.remote && basename(git.remote).replace(/\.git$/, '');
  return {
    path: draft.path,
    name: nodeInfo?.name ?? pyInfo?.name ?? remoteName ?? basename(draft.path),
    kinds: [...draft.kinds].sort(),
    ...((nodeInfo?.version ?? pyInfo?.version)
      ? { version: (nodeInfo?.version ?? pyInfo?.version)! }
      : {}),
    ...(git ? { git } : {}),
    ...(draft.kinds.has('python') ? { python: { manifests: py, dependencies: [...pyDeps] } } : {}),
    ...(nodeInfo
      ? {
          node: {
            ...(draft.lockfile ? { lockfile: draft.lockfile } : {}),
            dependencies: nodeInfo.dependencies,
          },
        }
      : {}),
    files: draft.files,
    bytes: draft.bytes,
    languages: draft.languages,
    fingerprint: fingerprint(draft.entries),
    entries: draft.entries.sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    secrets: draft.secrets.sort(),
    tooLarge: draft.tooLarge,
    unreadable: draft.unreadable,
    modifiedAt: Math.round(draft.modifiedAt),
    ...(code ? { code: { entryPoints: code.entryPoints.get(draft.path) ?? [] } } : {}),
  };
}

/** Git calls at once: enough to overlap their start-up, few enough for a Raspberry Pi. */
const GIT_CONCURRENCY = 4;

async function finishAll(drafts: ProjectDraft[], code: CodeScan | undefined): Promise<Project[]> {
  const out: Project[] = new Array(drafts.length);
  let next = 0;
  const worker = async () => {
    while (next < drafts.length) {
      const i = next++;
      out[i] = await finish(drafts[i]!, code);
    }
  };
  await Promise.all(Array.from({ length: GIT_CONCURRENCY }, worker));
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Scans this node: projects under the roots, systemd services, Docker, the node itself. */
export async function scanNode(options: ScanOptions): Promise<InventoryReport> {
  const started = Date.now();
  const roots = normalizeRoots(options.roots);
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const cache = HashCache.open(options.cacheFile, roots);
  const pool = new HashPool(options.hashWorkers ?? Math.min(4, availableParallelism()));
  let projects: Project[];
  let walker: TreeWalker;
  let code: CodeScan | undefined;
  try {
    walker = new TreeWalker({
      maxFileBytes,
      ignore: parseIgnore((options.ignore ?? []).join('\n')),
      cache,
      pool,
    });
    for (const root of roots) await walker.walk(root);
    await walker.finish();
    cache.save();
    if (options.code !== false)
      code = await scanCode(walker.drafts, {
        ...(options.cacheFile ? { cacheFile: options.cacheFile } : {}),
        binary: walker.binary,
      });
    projects = await finishAll(walker.drafts, code);
  } finally {
    cache.close();
    await pool.close();
  }
  const [systemd, docker] = await Promise.all([
    systemdServices(options.unitDirs ?? DEFAULT_UNIT_DIRS),
    dockerInventory(options.dockerSocket ?? DEFAULT_DOCKER_SOCKET),
  ]);
  const paths = projects.map((p) => p.path);
  const link = <T extends object>(item: T, candidates: (string | undefined)[]) => {
    const project = projectFor(candidates, paths);
    return project ? { ...item, project } : item;
  };
  return {
    schema: REPORT_SCHEMA_VERSION,
    ...(options.site ? { site: options.site } : {}),
    node: {
      name: options.node ?? hostname(),
      hostname: hostname(),
      os: osName(),
      arch: arch(),
      version: packageVersion(),
    },
    scannedAt: started,
    durationMs: Date.now() - started,
    roots,
    maxFileBytes,
    projects,
    services: systemd.services.map((s) =>
      link(s, [s.workingDirectory, ...commandPaths(s.execStart)]),
    ),
    systemd: systemd.status,
    containers: docker.containers.map((c) => link(c, [c.workingDir, ...c.mounts])),
    images: docker.images,
    docker: docker.status,
    stats: walker.stats,
    ...(code
      ? { code: { params: DEFAULT_CLONE_PARAMS, stats: code.stats, facts: code.facts } }
      : {}),
  };
}
