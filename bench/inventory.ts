/**
 * Inventory benchmark: the node scan with duplicate detection against `jdupes -r` on the same
 * generated tree, and an unchanged re-scan against the first scan.
 *
 *   npm run bench:inventory     (about a minute, 2 GB of disk in the temp folder)
 *
 * The tree: BENCH_FILES (100,000) files of BENCH_BYTES (2 GB) in folders of 100 files, each a
 * Python project (pyproject.toml), 30% of the folders exact copies of others. Sizes are
 * log-uniform, 0.2–110 KB, content random. Every scan runs in a child process of its own (peak RSS
 * is its maxRSS), with the page cache warm for all (the tree was just written), so the
 * comparison is CPU and syscalls, not the disk. The tree is deleted at the end.
 * BENCH_DIR puts it elsewhere; a disk with less free space than the tree needs scales it down,
 * with a note. BENCH_PROFILE=<dir> writes a CPU profile of each scan there; BENCH_FILES and
 * BENCH_BYTES change the tree's size.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { audit } from '../inventory/audit.js';
import { formatBytes, formatCount } from '../inventory/render.js';
import { scanNode } from '../inventory/scan.js';

const FILES_PER_FOLDER = 100;
const DUPLICATE_SHARE = 0.3;

interface ChildResult {
  scanMs: number;
  auditMs: number;
  files: number;
  hashed: number;
  cached: number;
  exactGroups: number;
  copies: number;
  maxRssMb: number;
  /** User + system CPU of the whole child (all threads), seconds. */
  cpuSec: number;
}

/** Child mode: one scan and audit in a fresh process, result as JSON on stdout. */
async function child(root: string, cacheFile: string): Promise<void> {
  const t0 = performance.now();
  const report = await scanNode({ roots: [root], cacheFile, unitDirs: [], node: 'bench' });
  const t1 = performance.now();
  const twin = audit([report]);
  const t2 = performance.now();
  const result: ChildResult = {
    scanMs: t1 - t0,
    auditMs: t2 - t1,
    files: report.stats.files,
    hashed: report.stats.hashed,
    cached: report.stats.cached,
    exactGroups: twin.summary.exactGroups,
    copies: twin.summary.toDelete,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    cpuSec: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
  };
  process.stdout.write(JSON.stringify(result));
}

function runChild(root: string, cacheFile: string): ChildResult {
  const self = fileURLToPath(import.meta.url);
  const profile = process.env.BENCH_PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
    : [];
  const out = execFileSync(process.execPath, [...profile, self, '--child', root, cacheFile], {
    maxBuffer: 1024 * 1024,
  });
  return JSON.parse(out.toString()) as ChildResult;
}

/** A deterministic generator, so every run builds the same tree. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function generate(root: string, files: number, bytes: number): { folders: number; copies: number } {
  const folders = Math.max(2, Math.round(files / FILES_PER_FOLDER));
  const copies = Math.round(folders * DUPLICATE_SHARE);
  const originals = folders - copies;
  const random = rng(42);
  // Log-uniform sizes scaled so the originals and their copies add up to `bytes`.
  const raw = Array.from({ length: originals * FILES_PER_FOLDER }, () => 200 * 550 ** random());
  const copied = new Set(Array.from({ length: copies }, (_, i) => i % originals));
  const folderBytes = (f: number) =>
    raw.slice(f * FILES_PER_FOLDER, (f + 1) * FILES_PER_FOLDER).reduce((a, b) => a + b, 0);
  let total = 0;
  for (let f = 0; f < originals; f++) total += folderBytes(f) * (copied.has(f) ? 2 : 1);
  const scale = bytes / total;
  const buffer = Buffer.allocUnsafe(Math.ceil(Math.max(...raw) * scale) + 1);
  for (let f = 0; f < originals; f++) {
    const dir = join(root, `project-${String(f).padStart(4, '0')}`, 'src');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '..', 'pyproject.toml'), `[project]\nname = "p${f}"\n`);
    for (let i = 1; i < FILES_PER_FOLDER; i++) {
      const size = Math.round(raw[f * FILES_PER_FOLDER + i]! * scale);
      randomFillSync(buffer, 0, size);
      writeFileSync(join(dir, `module_${i}.py`), buffer.subarray(0, size));
    }
  }
  for (let c = 0; c < copies; c++) {
    const from = join(root, `project-${String(c % originals).padStart(4, '0')}`);
    const to = join(root, `copy-${String(c).padStart(4, '0')}`);
    mkdirSync(join(to, 'src'), { recursive: true });
    copyFileSync(join(from, 'pyproject.toml'), join(to, 'pyproject.toml'));
    for (let i = 1; i < FILES_PER_FOLDER; i++)
      copyFileSync(join(from, 'src', `module_${i}.py`), join(to, 'src', `module_${i}.py`));
  }
  return { folders, copies };
}

function jdupes(): string {
  const found = spawnSync('sh', ['-c', 'command -v jdupes'], { encoding: 'utf8' });
  if (found.status === 0) return found.stdout.trim();
  if (process.getuid?.() !== 0)
    throw new Error('jdupes is missing: install it with `sudo apt-get install -y jdupes`');
  console.log('installing jdupes (Debian package) for the comparison…');
  execFileSync('apt-get', ['install', '-y', '-q', 'jdupes'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return 'jdupes';
}

/**
 * jdupes's wall time, duplicate sets and CPU time. The CPU comes from the shell that ran it: a
 * process's /proc/<pid>/stat counts its waited-for children's user and system ticks.
 */
function timeJdupes(
  bin: string,
  root: string,
  out: string,
): { ms: number; sets: number; cpuSec: number } {
  const t0 = performance.now();
  const r = spawnSync('sh', ['-c', `"$0" -r -q "$1" > "$2" && cat /proc/$$/stat`, bin, root, out], {
    encoding: 'utf8',
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`jdupes failed: ${r.stderr}`);
  // Fields after the command name: cutime and cstime are the 14th and 15th (stat fields 16, 17).
  const fields = r.stdout.slice(r.stdout.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[13]) + Number(fields[14]);
  const tickHz = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
  const sets = readFileSync(out, 'utf8')
    .split('\n\n')
    .filter((x) => x.trim()).length;
  return { ms, sets, cpuSec: ticks / tickHz };
}

async function main(): Promise<void> {
  let files = Number(process.env.BENCH_FILES ?? 100_000);
  let bytes = Number(process.env.BENCH_BYTES ?? 2e9);
  const base = process.env.BENCH_DIR ?? tmpdir();
  const bin = jdupes();
  const st = statfsSync(base);
  const free = st.bavail * st.bsize;
  // Keep a quarter of the free space, and room for the cache and report.
  if (bytes > free * 0.75) {
    const factor = (free * 0.75) / bytes;
    console.log(
      `NOTE: ${base} has ${formatBytes(free)} free; scaling the tree down to ${Math.round(factor * 100)}%`,
    );
    files = Math.round(files * factor);
    bytes = Math.round(bytes * factor);
  }
  const dir = mkdtempSync(join(base, 'factorylm-bench-inventory-'));
  const root = join(dir, 'tree');
  try {
    let t = performance.now();
    const shape = generate(root, files, bytes);
    console.log(
      `tree: ${formatCount(files)} files, ${formatBytes(bytes)}, ${shape.folders} folders of which ` +
        `${shape.copies} exact copies; generated in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    execFileSync('sync');
    const cache = join(dir, 'cache.db');
    const first = runChild(root, cache);
    const jd = timeJdupes(bin, root, join(dir, 'jdupes.txt'));
    const again = runChild(root, cache);
    t = performance.now();
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const firstMs = first.scanMs + first.auditMs;
    const againMs = again.scanMs + again.auditMs;
    console.log(
      [
        `scan + duplicate detection: ${s(firstMs)} (scan ${s(first.scanMs)}, audit ${s(first.auditMs)}), ` +
          `${formatCount(first.files / (firstMs / 1000))} files/s, ${formatCount(bytes / 1e6 / (firstMs / 1000))} MB/s, ` +
          `CPU ${first.cpuSec.toFixed(2)} s, peak RSS ${first.maxRssMb.toFixed(0)} MB; ${formatCount(first.hashed)} files hashed, ` +
          `${first.exactGroups} duplicate sets, ${first.copies} copies to delete`,
        `jdupes -r: ${s(jd.ms)}, CPU ${jd.cpuSec.toFixed(2)} s (${jd.sets} duplicate sets of files)`,
        `re-scan (cache): ${s(againMs)}, ${formatCount(again.cached)} files from the cache, ` +
          `${formatCount(again.hashed)} read; CPU ${again.cpuSec.toFixed(2)} s, peak RSS ${again.maxRssMb.toFixed(0)} MB`,
        `targets: scan ≤ jdupes: ${firstMs <= jd.ms ? 'met' : 'NOT met'} (${(firstMs / jd.ms).toFixed(2)}× jdupes); ` +
          `re-scan ≥ 10× faster: ${firstMs / againMs >= 10 ? 'met' : 'NOT met'} (${(firstMs / againMs).toFixed(1)}×)`,
      ].join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child(process.argv[3]!, process.argv[4]!);
else await main();
