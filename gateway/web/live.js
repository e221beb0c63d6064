// The gateway's live page: counts and charts from the server-sent event stream at /events.
// Plain browser JavaScript and uPlot, no build step.
/* global uPlot, document, location, localStorage, EventSource, URLSearchParams */
'use strict';

/** Samples kept per chart. */
const KEEP = 600;
const CHOSEN_KEY = 'factorylm-live-tags';

const token = new URLSearchParams(location.search).get('token');
const $ = (id) => document.getElementById(id);

/** Last sample of every tag seen: key → [ts, value]. */
const tags = new Map();
/** Charted tags: key → { plot, data: [xs, ys], el }. */
const charts = new Map();
let chosen = new Set(JSON.parse(localStorage.getItem(CHOSEN_KEY) ?? '[]'));
let pickedByUser = chosen.size > 0;

function fmt(n) {
  if (n === undefined || n === null) return '–';
  return typeof n === 'number' ? n.toLocaleString('en-US', { maximumFractionDigits: 1 }) : n;
}

function showStats(s) {
  $('name').textContent = s.name;
  const status = $('status');
  status.textContent = s.status;
  status.className = s.status;
  $('reasons').textContent = s.reasons.join(' · ');
  $('nodes-online').textContent =
    `${fmt(s.nodesOnline)}${s.nodesOffline ? ` (${s.nodesOffline} off)` : ''}`;
  $('message-rate').textContent = fmt(s.rates.messagesPerSec);
  $('point-rate').textContent = fmt(s.rates.pointsPerSec);
  $('write-rate').textContent = s.influx === 'off' ? 'off' : fmt(s.rates.writtenPerSec);
  $('spool-depth').textContent = s.influx === 'off' ? 'off' : fmt(s.spoolPoints);
  $('influx').textContent = s.influx;
  $('messages').textContent = fmt(s.messages);
  $('invalid').textContent = fmt(s.invalid);
}

function renderPicker() {
  const filter = $('filter').value.trim().toLowerCase();
  const list = $('tags');
  list.replaceChildren();
  for (const key of [...tags.keys()].sort()) {
    if (filter && !key.toLowerCase().includes(filter)) continue;
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = key;
    box.checked = chosen.has(key);
    box.addEventListener('change', () => {
      pickedByUser = true;
      if (box.checked) chosen.add(key);
      else chosen.delete(key);
      localStorage.setItem(CHOSEN_KEY, JSON.stringify([...chosen]));
      syncCharts();
    });
    // site/area/line shown once in the tooltip; the list shows asset/tag.
    label.title = key;
    label.append(box, ` ${key.split('/').slice(-2).join('/')}`);
    list.append(label);
  }
}

function addChart(key) {
  const el = document.createElement('div');
  el.className = 'chart';
  el.dataset.tag = key;
  el.dataset.points = '0';
  const title = document.createElement('h2');
  const last = document.createElement('span');
  last.className = 'last';
  title.append(key, last);
  el.append(title);
  $('charts').append(el);
  const data = [[], []];
  const first = tags.get(key);
  if (first) {
    data[0].push(first[0] / 1000);
    data[1].push(first[1]);
  }
  const plot = new uPlot(
    {
      width: Math.max(300, $('charts').clientWidth - 16),
      height: 180,
      series: [{}, { label: key.split('/').pop(), stroke: '#2563eb', width: 1.5 }],
      legend: { show: false },
    },
    data,
    el,
  );
  const chart = { plot, data, el, last };
  charts.set(key, chart);
  refresh(chart);
}

function refresh(chart) {
  chart.plot.setData(chart.data);
  chart.el.dataset.points = String(chart.data[0].length);
  chart.last.textContent = fmt(chart.data[1][chart.data[1].length - 1]);
}

function syncCharts() {
  for (const [key, chart] of charts) {
    if (chosen.has(key)) continue;
    chart.plot.destroy();
    chart.el.remove();
    charts.delete(key);
  }
  for (const key of chosen) if (!charts.has(key) && tags.has(key)) addChart(key);
}

/** Until the user picks, chart the first two analog tags that move (bits as a last resort). */
function autoPick(samples) {
  if (pickedByUser || chosen.size >= 2) return false;
  const analog = (key) => samples[key].some(([, v]) => v !== 0 && v !== 1);
  const keys = Object.keys(samples).sort((a, b) => analog(b) - analog(a) || a.localeCompare(b));
  const before = chosen.size;
  for (const key of keys) {
    if (chosen.size >= 2) break;
    chosen.add(key);
  }
  return chosen.size !== before;
}

function onSamples(samples) {
  let added = false;
  for (const [key, list] of Object.entries(samples)) {
    if (!tags.has(key)) added = true;
    tags.set(key, list[list.length - 1]);
    const chart = charts.get(key);
    if (!chart) continue;
    for (const [ts, v] of list) {
      chart.data[0].push(ts / 1000);
      chart.data[1].push(v);
    }
    if (chart.data[0].length > KEEP) {
      chart.data[0].splice(0, chart.data[0].length - KEEP);
      chart.data[1].splice(0, chart.data[1].length - KEEP);
    }
    refresh(chart);
  }
  const picked = autoPick(samples);
  syncCharts();
  if (added || picked) renderPicker();
}

function connect() {
  const events = new EventSource(`events${token ? `?token=${encodeURIComponent(token)}` : ''}`);
  events.addEventListener('tags', (e) => {
    for (const [key, sample] of Object.entries(JSON.parse(e.data))) tags.set(key, sample);
    renderPicker();
    syncCharts();
  });
  events.addEventListener('stats', (e) => showStats(JSON.parse(e.data)));
  events.addEventListener('samples', (e) => onSamples(JSON.parse(e.data)));
  events.addEventListener('error', () => {
    $('status').textContent = 'reconnecting…';
    $('status').className = '';
  });
}

$('filter').addEventListener('input', renderPicker);
connect();
