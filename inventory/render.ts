import type { AuditResult } from './audit.js';

/** 1536 → `1.5 KiB`; exact bytes stay beside it wherever a number is acted on. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** 1234567 → `1,234,567`, the same on every machine whatever its locale. */
export function formatCount(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

const NUMERIC = /^[\d,.]+( [KMGT]?i?B)?$|^\d+%$/;

/** A plain-text table: columns padded to their widest cell, numbers right-aligned. */
export function textTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (NUMERIC.test(c) && i > 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A GitHub-flavoured Markdown table; `|` in cells escaped. */
export function markdownTable(headers: string[], rows: string[][]): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [
    `| ${headers.map(esc).join(' | ')} |`,
    `|${headers.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/** The tables of a twin, shared by the terminal and Markdown renderings. */
function sections(r: AuditResult, code: (s: string) => string) {
  const nodes = {
    title: 'Nodes',
    headers: ['Node', 'OS', 'Arch', 'Agent', 'Projects', 'Files', 'Size', 'Scanned'],
    rows: r.nodes.map((n) => [
      n.name,
      n.os,
      n.arch,
      n.version,
      formatCount(n.projects),
      formatCount(n.files),
      formatBytes(n.bytes),
      iso(n.scannedAt),
    ]),
  };
  const projects = {
    title: 'Projects',
    headers: ['Location', 'Name', 'Kind', 'Version', 'Commit', 'Files', 'Size', 'Runs as'],
    rows: r.projects.map((p) => [
      code(`${p.node}:${p.path}`),
      p.name,
      p.kinds.join('+'),
      p.version ?? '',
      p.commit ? `${p.commit.slice(0, 8)}${p.dirty ? ` +${p.dirty} dirty` : ''}` : '',
      formatCount(p.files),
      formatBytes(p.bytes),
      p.usage === 'experimental' ? 'experimental' : `${p.usage}: ${p.usedBy.join(', ')}`,
    ]),
  };
  const kill = {
    title: 'Duplicates to kill',
    headers: ['Location', 'Files', 'Bytes', 'Action', 'Reason'],
    rows: r.duplicates.kill.map((k) => [
      code(`${k.node}:${k.path}`),
      formatCount(k.files),
      formatCount(k.bytes),
      k.action,
      k.reason,
    ]),
  };
  const forks = {
    title: 'Forks',
    headers: ['Fork', 'Source', 'Similar', 'Changed', 'Added', 'Removed'],
    rows: r.duplicates.forks.map((f) => [
      code(f.fork),
      code(f.source),
      `${Math.floor(f.similarity * 100)}%`,
      list(f.changed),
      list(f.added),
      list(f.removed),
    ]),
  };
  const drift = {
    title: 'Drift',
    headers: ['Node', 'Project', 'What', 'Expected', 'Actual', 'Detail'],
    rows: r.drift.map((d) => [
      d.node,
      d.project,
      d.kind,
      d.expected ?? '',
      d.actual ?? '',
      d.detail,
    ]),
  };
  const c = r.code;
  const copied = {
    title: 'Copied, not imported',
    headers: ['Copy', 'Lines', 'Source', 'Type', 'Action'],
    rows: (c?.copied ?? []).map((x) => [
      code(x.function ? `${x.copy}#${x.function}` : x.copy),
      x.lines,
      code(x.source),
      x.type === 'near' ? `near ${Math.round(x.similarity * 100)}%` : `type ${x.type}`,
      x.action,
    ]),
  };
  const dead = {
    title: 'Dead code',
    headers: ['File', 'Lines', 'Action', 'Reason'],
    rows: (c?.dead ?? []).map((d) => [code(d.file), formatCount(d.lines), d.action, d.reason]),
  };
  return { nodes, projects, kill, forks, drift, copied, dead };
}

/** Up to five paths, then how many more. */
function list(paths: string[]): string {
  if (paths.length === 0) return '';
  const shown = paths.slice(0, 5).join(', ');
  return paths.length > 5 ? `${shown} (+${paths.length - 5} more)` : shown;
}

function recoveredLine(r: AuditResult): string {
  const { delete: del, archive } = r.duplicates.recovered;
  return (
    `Disk recovered: ${formatCount(del)} bytes (${formatBytes(del)}) by deleting ` +
    `${r.summary.toDelete} copies, ${formatCount(del + archive)} bytes ` +
    `(${formatBytes(del + archive)}) once ${r.summary.toArchive} archived.`
  );
}

export function renderText(r: AuditResult): string {
  const s = sections(r, (x) => x);
  const out = [
    `Fleet twin: ${r.summary.nodes} nodes, ${formatCount(r.summary.projects)} projects, ` +
      `${formatCount(r.summary.files)} files, ${formatBytes(r.summary.bytes)}`,
  ];
  for (const sec of [s.nodes, s.projects, s.kill, s.copied, s.dead, s.forks, s.drift]) {
    out.push('', `${sec.title} (${sec.rows.length})`);
    if (sec.rows.length) out.push(textTable(sec.headers, sec.rows));
  }
  out.push('', recoveredLine(r));
  return out.join('\n') + '\n';
}

/** The twin document in the spirit of the hand-written one, regenerated from the data. */
export function renderMarkdown(r: AuditResult): string {
  const s = sections(r, (x) => `\`${x}\``);
  const prod = r.projects.filter((p) => p.usage === 'production');
  const out = [
    '# Codebase twin',
    '',
    `*Generated by \`factorylm audit\` at ${iso(r.generatedAt)} from ${r.summary.nodes} node inventories.*`,
    '',
    `${formatCount(r.summary.files)} files (${formatBytes(r.summary.bytes)}) in ` +
      `${formatCount(r.summary.projects)} projects; ${prod.length} run in production; ` +
      `${r.summary.exactGroups} sets of exact copies, ${r.summary.forks} forks, ` +
      `${r.summary.drift} drift findings.`,
  ];
  if (r.code) {
    const k = r.code.summary;
    out.push(
      '',
      `Code: ${formatCount(k.files)} files, ${formatCount(k.lines)} lines; ` +
        `${formatCount(k.edges)} imports between them, ${k.unresolved} unresolved, ` +
        `${k.unparsed} that do not parse; ${k.cloneGroups} clone groups, ` +
        `${k.copiedNotImported} copies not imported; ${formatCount(k.deadFiles)} dead files ` +
        `(${formatCount(k.deadLines)} lines).`,
    );
  }
  for (const sec of [s.nodes, s.projects, s.kill, s.copied, s.dead, s.forks, s.drift]) {
    out.push('', `## ${sec.title}`, '');
    out.push(sec.rows.length ? markdownTable(sec.headers, sec.rows) : '*None.*');
    if (sec === s.kill) out.push('', `**${recoveredLine(r)}**`);
  }
  return out.join('\n') + '\n';
}
