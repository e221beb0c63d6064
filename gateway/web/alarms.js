// Alarms panel of the live page: the maintenance bridge's alarms with their work orders, from
// GET /api/alarms every few seconds. Hidden when the gateway runs no bridge.
/* global document, location, URLSearchParams, fetch, setInterval */
'use strict';
(() => {
  const token = new URLSearchParams(location.search).get('token');
  const url = token ? `api/alarms?token=${encodeURIComponent(token)}` : 'api/alarms';
  const section = document.getElementById('alarms');
  const body = document.getElementById('alarm-rows');
  const note = document.getElementById('alarm-note');
  const time = (ms) => (ms ? new Date(ms).toLocaleTimeString() : '');
  const cell = (row, text, cls) => {
    const td = row.insertCell();
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  };
  async function refresh() {
    let answer;
    try {
      answer = await (await fetch(url)).json();
    } catch {
      return;
    }
    section.hidden = !answer.enabled;
    if (!answer.enabled) return;
    note.textContent = answer.active
      ? ''
      : 'standby: another gateway holds the maintenance lease and makes the work orders';
    body.replaceChildren();
    if (answer.alarms.length === 0) {
      const row = body.insertRow();
      const td = cell(row, 'no alarms');
      td.colSpan = 6;
      return;
    }
    for (const a of answer.alarms) {
      const row = body.insertRow();
      row.className = `alarm ${a.state}`;
      cell(row, a.asset);
      cell(row, a.text);
      cell(row, a.shelved ? `shelved (${a.shelved.by})` : a.state.replace('_', ' '), 'state');
      cell(row, a.priority);
      cell(row, time(a.raisedAt));
      const wo = row.insertCell();
      if (a.workOrder) {
        const link = document.createElement('a');
        link.href = a.workOrder.url;
        link.target = '_blank';
        link.rel = 'noopener';
        link.textContent = a.workOrder.customId ?? `#${a.workOrder.id}`;
        wo.append(link);
      } else wo.textContent = a.state.startsWith('active') ? 'pending…' : '';
    }
  }
  refresh();
  setInterval(refresh, 2000);
})();
