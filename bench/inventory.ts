/**
 * Inventory benchmark, two parts, each against the common single-purpose tool on the same files
 * in the same run, runs interleaved (the tool first in every other run), figures as ranges:
 *
 * 1. Duplicates: the node scan with duplicate detection (scan + audit) against `jdupes -r` on a
 *    generated tree: BENCH_FILES (100,000) files of BENCH_BYTES (2 GB) in folders of 100 files,
 *    each a Python project (pyproject.toml), 30% of the folders exact copies of others; sizes
 *    log-uniform 0.2-110 KB, content random. Then a re-scan with the cache, nothing changed.
 * 2. Code: BENCH_CODE_FILES (3,000) Python files built from the Debian python3 standard library
 *    by bench/inventory-corpus.py (the library itself plus copies pasted as they are, renamed,
 *    edited, and modules of pasted functions, with the ground truth of what was copied from
 *    where): import graph + clone groups (scan + audit) against `jscpd` (mode mild, the same
 *    files: --max-size 1mb --max-lines 1000000). Clones found by each are checked against the
 *    ground truth. Then a re-scan after one file changed (target <= 1 s).
 *
 *   npm run bench:inventory     (jscpd takes minutes per run on 2 cores; about 2 GB of disk)
 *
 * Every run is a process of its own measured by GNU time (wall, CPU, peak RSS of the whole
 * process: node start-up included, our hashing and parsing threads included). The page cache is
 * warm for all (the files were just written), so the comparison is CPU and syscalls, not the disk.
 * BENCH_RUNS (3) runs of each; BENCH_PARTS=dupes or code runs one part; BENCH_DIR puts the trees
 * elsewhere (a disk with less free space scales the tree down, with a note); BENCH_PROFILE=<dir>
 * writes a CPU profile of each of our scans there. The trees are deleted at the end.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../core/package-info.js';
import { audit } from '../inventory/audit.js';
import { formatBytes, formatCount } from '../inventory/render.js';
import { scanNode } from '../inventory/scan.js';

const FILES_PER_FOLDER = 100;
const DUPLICATE_SHARE = 0.3;

/** What one of our scans found, printed as JSON by the child process. */
interface ChildResult {
  scanMs: number;
  auditMs: number;
  files: number;
  hashed: number;
  cached: number;
  exactGroups: number;
  copies: number;
  /** Files whose size no other file on the node has, and their bytes. */
  sizeUnique: { files: number; bytes: number; allBytes: number };
  code?: {
    files: number;
    analyzed: number;
    cachedFacts: number;
    edges: number;
    unresolved: number;
    unparsed: number;
    groups: number;
    /** Members of each clone group, paths relative to the root. */
    members: string[][];
  };
}

/** Child mode: one scan and audit in a fresh process (after changing `touch`, if given). */
async function child(root: string, cacheFile: string, touch?: string): Promise<void> {
  if (touch) appendFileSync(join(root, touch), `\n# changed by the benchmark at ${Date.now()}\n`);
  const t0 = performance.now();
  const code = process.env.BENCH_CODE !== '0';
  const report = await scanNode({ roots: [root], cacheFile, unitDirs: [], node: 'bench', code });
  const t1 = performance.now();
  const twin = audit([report]);
  const t2 = performance.now();
  const sizes = new Map<number, number>();
  for (const p of report.projects)
    for (const [, , size] of p.entries) sizes.set(size, (sizes.get(size) ?? 0) + 1);
  const sizeUnique = { files: 0, bytes: 0, allBytes: 0 };
  for (const [size, n] of sizes) {
    sizeUnique.allBytes += size * n;
    if (n === 1) {
      sizeUnique.files += 1;
      sizeUnique.bytes += size;
    }
  }
  const c = twin.code;
  const rel = (id: string) => relative(root, id.slice(id.indexOf(':') + 1));
  const result: ChildResult = {
    scanMs: t1 - t0,
    auditMs: t2 - t1,
    files: report.stats.files,
    hashed: report.stats.hashed,
    cached: report.stats.cached,
    exactGroups: twin.summary.exactGroups,
    copies: twin.summary.toDelete,
    sizeUnique,
    ...(c && report.code
      ? {
          code: {
            files: c.summary.files,
            analyzed: report.code.stats.analyzed,
            cachedFacts: report.code.stats.cached,
            edges: c.summary.edges,
            unresolved: c.summary.unresolved,
            unparsed: c.summary.unparsed,
            groups: c.summary.cloneGroups,
            members: c.clones.map((g) => g.members.map((m) => rel(m.file))),
          },
        }
      : {}),
  };
  process.stdout.write(JSON.stringify(result));
}

/** Wall, CPU and peak RSS of a whole process, from GNU time. */
interface Measured {
  wallSec: number;
  cpuSec: number;
  rssMb: number;
  stdout: string;
}

function timeBin(): string {
  if (existsSync('/usr/bin/time')) return '/usr/bin/time';
  install('time');
  return '/usr/bin/time';
}

/** Runs `command` under GNU time; stdout to `out` when given (jdupes' list can be large). */
function measure(
  command: string,
  args: string[],
  out?: string,
  env: NodeJS.ProcessEnv = {},
): Measured {
  const stats = join(tmpdir(), `factorylm-bench-time-${process.pid}.txt`);
  const r = spawnSync(
    'sh',
    [
      '-c',
      `t="$0"; s="$1"; shift; "$t" -f '%e %U %S %M' -o "$s" "$@"${out ? ` > '${out}'` : ''}`,
      timeBin(),
      stats,
      command,
      ...args,
    ],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, ...env } },
  );
  if (r.status !== 0) throw new Error(`${command} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const line = readFileSync(stats, 'utf8').trim().split('\n').pop()!;
  rmSync(stats, { force: true });
  const [wall, user, sys, kb] = line.split(' ').map(Number) as [number, number, number, number];
  return { wallSec: wall, cpuSec: user + sys, rssMb: kb / 1024, stdout: r.stdout };
}

/** One of our scans; `code: false` is `factorylm inventory --no-code` (duplicates only). */
function runChild(
  root: string,
  cacheFile: string,
  touch?: string,
  code = true,
): Measured & ChildResult {
  const self = fileURLToPath(import.meta.url);
  const profile = process.env.BENCH_PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
    : [];
  const m = measure(
    process.execPath,
    [...profile, self, '--child', root, cacheFile, ...(touch ? [touch] : [])],
    undefined,
    code ? {} : { BENCH_CODE: '0' },
  );
  return { ...m, ...(JSON.parse(m.stdout) as ChildResult) };
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

function install(pkg: string): void {
  if (process.getuid?.() !== 0)
    throw new Error(`${pkg} is missing: install it with \`sudo apt-get install -y ${pkg}\``);
  console.log(`installing ${pkg} (Debian package) for the comparison…`);
  execFileSync('apt-get', ['install', '-y', '-q', pkg], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

function jdupes(): string {
  const found = spawnSync('sh', ['-c', 'command -v jdupes'], { encoding: 'utf8' });
  if (found.status === 0) return found.stdout.trim();
  install('jdupes');
  return 'jdupes';
}

/** jscpd's command (its package exports no package.json: found from its main module). */
const jscpdBin = () => join(createRequire(import.meta.url).resolve('jscpd'), '../../../bin/jscpd');

function versions(jd: string | undefined): string {
  const out = [`node ${process.version}`];
  if (jd) out.push(execFileSync(jd, ['--version']).toString().split('\n')[0]!.trim());
  if (!process.env.BENCH_PARTS || process.env.BENCH_PARTS === 'code') {
    out.push(
      `jscpd ${execFileSync(process.execPath, [jscpdBin(), '--version']).toString().trim()}`,
    );
    out.push(execFileSync('python3', ['--version']).toString().trim() + ' (corpus)');
  }
  return out.join(', ');
}

/** `min–max` of a figure over the runs. */
function range(values: number[], digits = 2, unit = ''): string {
  const lo = Math.min(...values).toFixed(digits);
  const hi = Math.max(...values).toFixed(digits);
  return (lo === hi ? lo : `${lo}–${hi}`) + unit;
}

function ratios(ours: number[], theirs: number[]): number[] {
  return ours.map((o, i) => o / theirs[i]!);
}

async function duplicates(base: string, runs: number): Promise<void> {
  let files = Number(process.env.BENCH_FILES ?? 100_000);
  let bytes = Number(process.env.BENCH_BYTES ?? 2e9);
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
    const t = performance.now();
    const shape = generate(root, files, bytes);
    console.log(
      `\n1. duplicates — tree: ${formatCount(files)} files, ${formatBytes(bytes)}, ${shape.folders} folders of which ` +
        `${shape.copies} exact copies; generated in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    execFileSync('sync');
    const ours: ReturnType<typeof runChild>[] = [];
    const again: ReturnType<typeof runChild>[] = [];
    const theirs: (Measured & { sets: number })[] = [];
    const runJdupes = () => {
      const out = join(dir, 'jdupes.txt');
      const m = measure(bin, ['-r', '-q', root], out);
      const sets = readFileSync(out, 'utf8')
        .split('\n\n')
        .filter((x) => x.trim()).length;
      theirs.push({ ...m, sets });
    };
    for (let i = 0; i < runs; i++) {
      const cache = join(dir, `cache-${i}.db`);
      if (i % 2 === 1) runJdupes();
      ours.push(runChild(root, cache, undefined, false));
      if (i % 2 === 0) runJdupes();
      again.push(runChild(root, cache, undefined, false));
      rmSync(cache, { force: true });
      for (const x of ['-wal', '-shm']) rmSync(cache + x, { force: true });
    }
    // Once with the code analysis on, as `factorylm inventory` runs by default. The tree's files
    // are random bytes named .py: the small ones hold no NUL byte, so they are parsed as text.
    const cache = join(dir, 'cache-code.db');
    const withCode = runChild(root, cache);
    const o = ours[0]!;
    const inProcess = ours.map((x) => (x.scanMs + x.auditMs) / 1000);
    const u = o.sizeUnique;
    console.log(
      [
        `scan + duplicate detection, --no-code (whole process): ${range(ours.map((x) => x.wallSec))} s wall, ` +
          `CPU ${range(ours.map((x) => x.cpuSec))} s, peak RSS ${range(
            ours.map((x) => x.rssMb),
            0,
          )} MB ` +
          `(in-process scan + audit ${range(inProcess)} s); ${formatCount(o.hashed)} files hashed, ` +
          `${o.exactGroups} duplicate sets, ${o.copies} copies to delete`,
        `the same with the code analysis on (one run): ${withCode.wallSec.toFixed(2)} s wall, CPU ` +
          `${withCode.cpuSec.toFixed(2)} s, peak RSS ${withCode.rssMb.toFixed(0)} MB`,
        `jdupes -r: ${range(theirs.map((x) => x.wallSec))} s wall, CPU ${range(theirs.map((x) => x.cpuSec))} s, ` +
          `peak RSS ${range(
            theirs.map((x) => x.rssMb),
            0,
          )} MB (${theirs[0]!.sets} duplicate sets of files)`,
        `re-scan, nothing changed (cache): ${range(again.map((x) => x.wallSec))} s wall, ` +
          `${formatCount(again[0]!.cached)} files from the cache, ${formatCount(again[0]!.hashed)} read; ` +
          `peak RSS ${range(
            again.map((x) => x.rssMb),
            0,
          )} MB`,
        `files whose size is unique on the node: ${formatCount(u.files)} of ${formatCount(o.files)}, ` +
          `${formatBytes(u.bytes)} of ${formatBytes(u.allBytes)} (${((100 * u.bytes) / u.allBytes).toFixed(1)} % of the bytes read)`,
        `target scan ≤ jdupes: ours/jdupes wall ${range(
          ratios(
            ours.map((x) => x.wallSec),
            theirs.map((x) => x.wallSec),
          ),
        )}× ` +
          `per run: ${ours.every((x, i) => x.wallSec <= theirs[i]!.wallSec) ? 'met in every run' : 'NOT met in every run'}`,
      ].join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Truth {
  files: number;
  library: number;
  copies: { copy: string; kind: string; from: { file: string; function?: string }[] }[];
}

/** Unordered pairs of files that some clone group (or jscpd duplicate) puts together. */
function pairsOf(groups: string[][]): Set<string> {
  const out = new Set<string>();
  for (const g of groups) {
    const files = [...new Set(g)].sort();
    for (let a = 0; a < files.length; a++)
      for (let b = a + 1; b < files.length; b++) out.add(`${files[a]}\n${files[b]}`);
  }
  return out;
}

/** Planted copies found, by kind: a copy counts when a group pairs it with what it came from. */
function recall(truth: Truth, pairs: Set<string>): Record<string, string> {
  const found: Record<string, [number, number]> = {};
  for (const c of truth.copies)
    for (const f of c.from) {
      const k = (found[c.kind] ??= [0, 0]);
      k[1] += 1;
      const [a, b] = [c.copy, f.file].sort();
      if (pairs.has(`${a}\n${b}`)) k[0] += 1;
    }
  return Object.fromEntries(Object.entries(found).map(([k, [hit, all]]) => [k, `${hit}/${all}`]));
}

const STDLIB = '/usr/lib/python3.11';

async function code(base: string, runs: number): Promise<void> {
  const files = Number(process.env.BENCH_CODE_FILES ?? 3000);
  const dir = mkdtempSync(join(base, 'factorylm-bench-code-'));
  const root = join(dir, 'corpus');
  try {
    const t = performance.now();
    const truth = JSON.parse(
      execFileSync('python3', [
        join(packageRoot(), 'bench/inventory-corpus.py'),
        STDLIB,
        root,
        String(files),
      ]).toString(),
    ) as Truth;
    const kinds: Record<string, number> = {};
    for (const c of truth.copies) kinds[c.kind] = (kinds[c.kind] ?? 0) + 1;
    console.log(
      `\n2. code — corpus: ${formatCount(truth.files)} Python files: ${truth.library} of ${STDLIB} and ` +
        `${Object.entries(kinds)
          .map(([k, n]) => `${n} ${k}`)
          .join(', ')} copies in ${Math.ceil((truth.files - truth.library) / 120)} app projects; ` +
        `built in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    const ours: ReturnType<typeof runChild>[] = [];
    const changed: ReturnType<typeof runChild>[] = [];
    const theirs: (Measured & { clones: number; pairs: Set<string> })[] = [];
    const runJscpd = () => {
      const out = join(dir, 'jscpd');
      rmSync(out, { recursive: true, force: true });
      const m = measure(process.execPath, [
        jscpdBin(),
        '--silent',
        '--absolute',
        '--no-gitignore',
        '--format',
        'python',
        '--max-size',
        '1mb',
        '--max-lines',
        '1000000',
        '--reporters',
        'json',
        '--output',
        out,
        root,
      ]);
      const report = JSON.parse(readFileSync(join(out, 'jscpd-report.json'), 'utf8')) as {
        duplicates: { firstFile: { name: string }; secondFile: { name: string } }[];
      };
      const groups = report.duplicates.map((d) => [
        relative(root, d.firstFile.name),
        relative(root, d.secondFile.name),
      ]);
      theirs.push({ ...m, clones: report.duplicates.length, pairs: pairsOf(groups) });
    };
    // The file the re-scan changes: a library module many copies were made from.
    const touched = 'lib/json/decoder.py';
    for (let i = 0; i < runs; i++) {
      const cache = join(dir, `cache-${i}.db`);
      if (i % 2 === 1) runJscpd();
      ours.push(runChild(root, cache));
      if (i % 2 === 0) runJscpd();
      changed.push(runChild(root, cache, touched));
      rmSync(cache, { force: true });
      for (const x of ['-wal', '-shm']) rmSync(cache + x, { force: true });
    }
    const o = ours[0]!;
    const oc = o.code!;
    const ourPairs = pairsOf(oc.members);
    const j = theirs[0]!;
    const inProcess = ours.map((x) => (x.scanMs + x.auditMs) / 1000);
    const fmtRecall = (r: Record<string, string>) =>
      Object.entries(r)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
    console.log(
      [
        `ours, graph + clone groups (scan + audit, whole process): ${range(ours.map((x) => x.wallSec))} s wall, ` +
          `CPU ${range(ours.map((x) => x.cpuSec))} s, peak RSS ${range(
            ours.map((x) => x.rssMb),
            0,
          )} MB ` +
          `(in-process: scan ${range(ours.map((x) => x.scanMs / 1000))} s, audit ${range(ours.map((x) => x.auditMs / 1000))} s, ` +
          `together ${range(inProcess)} s)`,
        `  ${formatCount(oc.files)} code files, ${formatCount(oc.edges)} import edges, ${formatCount(oc.unresolved)} unresolved, ` +
          `${oc.unparsed} unparsed; ${formatCount(oc.groups)} clone groups, ${formatCount(ourPairs.size)} file pairs in them`,
        `jscpd: ${range(theirs.map((x) => x.wallSec))} s wall, CPU ${range(theirs.map((x) => x.cpuSec))} s, ` +
          `peak RSS ${range(
            theirs.map((x) => x.rssMb),
            0,
          )} MB; ${formatCount(j.clones)} clones (pairs of fragments), ` +
          `${formatCount(j.pairs.size)} file pairs in them`,
        `planted copies found (copy paired with its source; functions: each pasted function):`,
        `  ours:  ${fmtRecall(recall(truth, ourPairs))}`,
        `  jscpd: ${fmtRecall(recall(truth, j.pairs))}`,
        `re-scan after one file changed (${touched}): ${range(changed.map((x) => x.wallSec))} s wall whole process, ` +
          `in-process scan + audit ${range(changed.map((x) => (x.scanMs + x.auditMs) / 1000))} s ` +
          `(scan ${range(changed.map((x) => x.scanMs / 1000))} s); ${changed[0]!.code!.analyzed} file parsed, ` +
          `${formatCount(changed[0]!.code!.cachedFacts)} from the cache`,
        `targets: faster than jscpd: ours/jscpd wall ${range(
          ratios(
            ours.map((x) => x.wallSec),
            theirs.map((x) => x.wallSec),
          ),
        )}×; ` +
          `re-scan after one change ≤ 1 s: ${changed.every((x) => x.wallSec <= 1) ? 'met (whole process)' : changed.every((x) => x.scanMs + x.auditMs <= 1000) ? 'met in-process, NOT as a whole process' : 'NOT met'}`,
      ].join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const base = process.env.BENCH_DIR ?? tmpdir();
  const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
  const parts = process.env.BENCH_PARTS;
  console.log(`versions: ${versions(parts === 'code' ? undefined : jdupes())}; ${runs} runs each`);
  if (!parts || parts === 'dupes') await duplicates(base, runs);
  if (!parts || parts === 'code') await code(base, runs);
}

if (process.argv[2] === '--child') await child(process.argv[3]!, process.argv[4]!, process.argv[5]);
else await main();
