import type { CodeTwin, ProjectNode } from './twin.js';

/**
 * The project graph as text for other tools: Graphviz DOT, Mermaid, or JSON. Projects are nodes,
 * coloured by their class (ProjectNode.class); imports are solid edges, copies without an import
 * dashed red edges. The twin page (gateway/web/twin.js) draws the same graph with these colours.
 */
export const GRAPH_FORMATS = ['dot', 'mermaid', 'json'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

export const CLASS_COLOURS = {
  production: '#1f8a4c',
  library: '#2e6fd8',
  experimental: '#d68910',
  test: '#7d5fb2',
  dead: '#c0392b',
  empty: '#8a93a3',
} as const;

function label(p: ProjectNode): string {
  const c = p.classes;
  return `${p.name} (${p.node})\\n${p.files} files: ${c.production} prod, ${c.library} lib, ${c.dead} dead`;
}

export function renderGraph(code: CodeTwin, format: GraphFormat): string {
  const { projects, edges } = code.graph;
  if (format === 'json') return JSON.stringify(code.graph, null, 1) + '\n';
  const ids = new Map(projects.map((p, i) => [p.id, `p${i}`]));
  if (format === 'dot') {
    const out = [
      'digraph codebase {',
      '  rankdir=LR;',
      '  node [shape=box, style=filled, fontcolor=white];',
    ];
    for (const p of projects)
      out.push(
        `  ${ids.get(p.id)} [label=${JSON.stringify(label(p)).replace(/\\\\n/g, '\\n')}, fillcolor="${CLASS_COLOURS[p.class]}", tooltip=${JSON.stringify(p.id)}];`,
      );
    for (const e of edges) {
      if (e.imports)
        out.push(`  ${ids.get(e.from)} -> ${ids.get(e.to)} [label="${e.imports} imports"];`);
      if (e.copies)
        out.push(
          `  ${ids.get(e.from)} -> ${ids.get(e.to)} [label="${e.copies} copied", style=dashed, color="${CLASS_COLOURS.dead}"];`,
        );
    }
    out.push('}');
    return out.join('\n') + '\n';
  }
  const text = (s: string) => s.replace(/"/g, '#quot;');
  const out = ['flowchart LR'];
  for (const p of projects)
    out.push(`  ${ids.get(p.id)}["${text(label(p).replace('\\n', '<br>'))}"]`);
  for (const e of edges) {
    if (e.imports) out.push(`  ${ids.get(e.from)} -->|${e.imports} imports| ${ids.get(e.to)}`);
    if (e.copies) out.push(`  ${ids.get(e.from)} -.->|${e.copies} copied| ${ids.get(e.to)}`);
  }
  for (const p of projects)
    out.push(`  style ${ids.get(p.id)} fill:${CLASS_COLOURS[p.class]},color:#fff`);
  return out.join('\n') + '\n';
}
