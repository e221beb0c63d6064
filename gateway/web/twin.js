// The fleet twin page: one fetch of /api/twin, rendered as tables (cards on a phone).
// Plain browser JavaScript, no build step.
/* global document, location, fetch, URLSearchParams */
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
