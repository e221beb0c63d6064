// The fleet twin page: one fetch of /api/twin, rendered as tables (cards on a phone) and the
// code graph (cytoscape, loaded before this script). Plain browser JavaScript, no build step.
/* global document, location, fetch, URLSearchParams, window, cytoscape */
(function () {
  'use strict';
  const token = new URLSearchParams(location.search).get('token');
  const url = 'api/twin' + (token ? '?token=' + encodeURIComponent(token) : '');

  const count = (n) => String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  function bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = n;
    let u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u += 1;
    }
    return u === 0 ? n + ' B' : v.toFixed(1) + ' ' + units[u];
  }

  /** A row of cells; each cell is [label, text, class?, asCode?]. Text only: no HTML injection. */
  function row(cells, attrs) {
    const tr = document.createElement('tr');
    for (const [k, v] of Object.entries(attrs || {})) tr.setAttribute(k, v);
    for (const [label, text, cls, asCode] of cells) {
      const td = document.createElement('td');
      td.dataset.label = label;
      if (cls) td.className = cls;
      const inner = asCode ? document.createElement('code') : td;
      inner.textContent = text;
      if (asCode) td.appendChild(inner);
      tr.appendChild(td);
    }
    return tr;
  }

  function fill(id, rows, empty) {
    const body = document.querySelector('#' + id + ' tbody');
    body.replaceChildren(...rows);
    if (rows.length === 0) {
      const tr = document.createElement('tr');
      const td = document.createElement('td');
      td.className = 'empty';
      td.colSpan = 9;
      td.textContent = empty;
      tr.appendChild(td);
      body.appendChild(tr);
    }
  }

  // The colours of `factorylm audit --graph` (inventory/code/graph-render.ts CLASS_COLOURS).
  const COLOURS = {
    production: '#1f8a4c',
    library: '#2e6fd8',
    experimental: '#d68910',
    test: '#7d5fb2',
    dead: '#c0392b',
    empty: '#8a93a3',
  };
  const CLASSES = ['production', 'library', 'experimental', 'test', 'dead'];
  /** Rows of the files table at most: a project of 20,000 files would stall the page. */
  const MAX_FILE_ROWS = 1000;

  /**
   * Projects as nodes (fill: the project's class; inner pie: the share of each class among its
   * files), imports as solid edges, copies without an import as dashed red edges.
   */
  function graphElements(code) {
    const nodes = code.graph.projects.map((p) => {
      const data = {
        id: p.id,
        label: p.name + '\n' + p.node + ' · ' + count(p.files) + ' files',
        cls: p.class,
        colour: COLOURS[p.class],
        size: Math.round(30 + 10 * Math.log2(1 + p.files)),
      };
      for (const c of CLASSES) data[c] = p.files ? (100 * p.classes[c]) / p.files : 0;
      return { group: 'nodes', data };
    });
    const edges = [];
    for (const e of code.graph.edges) {
      if (e.imports)
        edges.push({
          group: 'edges',
          data: {
            id: 'imports:' + e.from + '>' + e.to,
            source: e.from,
            target: e.to,
            kind: 'imports',
            count: e.imports,
            label: e.imports + (e.imports === 1 ? ' import' : ' imports'),
          },
        });
      if (e.copies)
        edges.push({
          group: 'edges',
          data: {
            id: 'copies:' + e.from + '>' + e.to,
            source: e.from,
            target: e.to,
            kind: 'copies',
            count: e.copies,
            label: e.copies + ' copied',
          },
        });
    }
    return nodes.concat(edges);
  }

  const pie = {};
  CLASSES.forEach((c, i) => {
    pie['pie-' + (i + 1) + '-background-color'] = COLOURS[c];
    pie['pie-' + (i + 1) + '-background-size'] = 'data(' + c + ')';
  });

  function drawGraph(code) {
    const cy = cytoscape({
      container: document.getElementById('graph'),
      elements: graphElements(code),
      wheelSensitivity: 0.3,
      style: [
        {
          selector: 'node',
          style: Object.assign(
            {
              'background-color': 'data(colour)',
              width: 'data(size)',
              height: 'data(size)',
              label: 'data(label)',
              'text-wrap': 'wrap',
              'text-valign': 'bottom',
              'text-margin-y': 4,
              'font-size': 11,
              color: '#1d2330',
              'pie-size': '62%',
            },
            pie,
          ),
        },
        { selector: 'node:selected', style: { 'border-width': 4, 'border-color': '#1d2330' } },
        {
          selector: 'edge',
          style: {
            'curve-style': 'bezier',
            'target-arrow-shape': 'triangle',
            width: 2,
            label: 'data(label)',
            'font-size': 10,
            'text-background-color': '#fff',
            'text-background-opacity': 0.8,
          },
        },
        {
          selector: 'edge[kind = "imports"]',
          style: { 'line-color': '#5b6475', 'target-arrow-color': '#5b6475' },
        },
        {
          selector: 'edge[kind = "copies"]',
          style: {
            'line-color': COLOURS.dead,
            'target-arrow-color': COLOURS.dead,
            'line-style': 'dashed',
            color: COLOURS.dead,
          },
        },
      ],
      layout: { name: 'cose', animate: false, nodeDimensionsIncludeLabels: true, padding: 30 },
    });
    cy.on('tap', 'node', (evt) => showFiles(code, evt.target.id()));
    // For the browser console and the tests: the graph as drawn.
    window.twinGraph = cy;
  }

  /** The files of one project: class, why, and what each is a copy of. */
  function showFiles(code, projectId) {
    const project = code.graph.projects.find((p) => p.id === projectId);
    const copyOf = new Map();
    for (const c of code.copied) {
      const what =
        (c.function ? c.function + ' (lines ' + c.lines + ') from ' : '') +
        c.source +
        (c.type === 'near'
          ? ' (near, ' + Math.round(c.similarity * 100) + ' %)'
          : ' (type ' + c.type + ')');
      copyOf.set(c.copy, (copyOf.has(c.copy) ? copyOf.get(c.copy) + '; ' : '') + what);
    }
    const files = code.files
      .filter((f) => f.project === projectId)
      .sort(
        (a, b) => CLASSES.indexOf(a.class) - CLASSES.indexOf(b.class) || (a.path < b.path ? -1 : 1),
      );
    document.getElementById('files-title').textContent =
      'Files of ' +
      project.name +
      ' (' +
      projectId +
      '): ' +
      count(files.length) +
      (files.length > MAX_FILE_ROWS ? ', the first ' + count(MAX_FILE_ROWS) + ' shown' : '');
    fill(
      'files',
      files.slice(0, MAX_FILE_ROWS).map((f) => {
        return row(
          [
            ['File', f.path + (f.error ? ' (' + f.error + ')' : ''), '', true],
            ['Lines', count(f.lines), 'num'],
            ['Class', f.class, 'cls cls-' + f.class],
            ['Why', f.why],
            ['Copy of', copyOf.get(f.id) || '', '', true],
          ],
          { 'data-file': f.id, 'data-class': f.class },
        );
      }),
      'no code files',
    );
    document.body.dataset.project = projectId;
  }

  function renderCode(code) {
    const s = code.summary;
    document.getElementById('code-summary').textContent =
      count(s.files) +
      ' code files, ' +
      count(s.lines) +
      ' lines · ' +
      count(s.edges) +
      ' imports resolved, ' +
      count(s.unresolved) +
      ' unresolved · ' +
      count(s.cloneGroups) +
      ' clone groups, ' +
      count(s.copiedNotImported) +
      ' copied, not imported · ' +
      count(s.deadFiles) +
      ' dead files (' +
      count(s.deadLines) +
      ' lines)';
    document.getElementById('code').hidden = false;
    drawGraph(code);
  }

  function render(t) {
    const s = t.summary;
    document.getElementById('summary').textContent =
      s.nodes +
      ' nodes · ' +
      count(s.projects) +
      ' projects · ' +
      count(s.files) +
      ' files · ' +
      bytes(s.bytes) +
      ' · ' +
      s.exactGroups +
      ' sets of copies · ' +
      s.forks +
      ' forks · ' +
      s.drift +
      ' drift';
    fill(
      'nodes',
      t.nodes.map((n) =>
        row(
          [
            ['Node', n.name],
            ['OS', n.os + ' ' + n.arch],
            ['Agent', n.version],
            ['Projects', count(n.projects), 'num'],
            ['Files', count(n.files), 'num'],
            ['Size', bytes(n.bytes), 'num'],
            ['Scanned', new Date(n.scannedAt).toLocaleString()],
          ],
          { 'data-node': n.name },
        ),
      ),
      'no inventory received yet',
    );
    const r = t.duplicates.recovered;
    document.getElementById('recovered').textContent =
      'Disk recovered: ' +
      bytes(r.delete) +
      ' by deleting, ' +
      bytes(r.delete + r.archive) +
      ' once archived';
    fill(
      'kill',
      t.duplicates.kill.map((k) => {
        const tr = row(
          [
            ['Location', k.node + ':' + k.path, '', true],
            ['Files', count(k.files), 'num'],
            ['Size', bytes(k.bytes), 'num'],
            ['Action', ''],
            ['Reason', k.reason],
          ],
          { 'data-action': k.action, 'data-id': k.id },
        );
        const badge = document.createElement('span');
        badge.className = 'action ' + k.action;
        badge.textContent = k.action;
        tr.children[3].appendChild(badge);
        return tr;
      }),
      'no duplicates',
    );
    fill(
      'drift',
      t.drift.map((d) =>
        row([
          ['Node', d.node],
          ['Project', d.project],
          ['What', d.kind],
          ['Detail', d.detail],
        ]),
      ),
      'no drift',
    );
    fill(
      'projects',
      t.projects.map((p) =>
        row([
          ['Location', p.node + ':' + p.path, '', true],
          ['Name', p.name],
          ['Version', p.version || (p.commit ? p.commit.slice(0, 8) : '')],
          ['Files', count(p.files), 'num'],
          [
            'Runs as',
            p.usage === 'experimental' ? 'experimental' : p.usedBy.join(', '),
            p.usage === 'production' ? 'production' : '',
          ],
        ]),
      ),
      'no projects',
    );
    if (t.code) renderCode(t.code);
    document.body.dataset.loaded = 'true';
  }

  fetch(url)
    .then((res) => {
      if (!res.ok) throw new Error('HTTP ' + res.status);
      return res.json();
    })
    .then(render)
    .catch((err) => {
      document.getElementById('error').textContent = 'cannot load the twin: ' + err.message;
    });
})();
