// The gateway's live page: counts and trend charts from the server-sent event stream at /events,
// with the last hour of each charted tag from /api/recent. Plain browser JavaScript and uPlot, no
// build step.
/* global uPlot, document, location, localStorage, EventSource, URLSearchParams, fetch, window */
'use strict';

const CHOSEN_KEY = 'factorylm-live-tags';
const WINDOW_KEY = 'factorylm-live-window';
/** Longest window the page offers, and the history the gateway keeps: 60 min. */
const MAX_WINDOW_S = 3600;
const LINE = '#2563eb';
const GAP = 'rgba(192, 57, 43, 0.14)';

const token = new URLSearchParams(location.search).get('token');
const withToken = (path, sep) => (token ? `${path}${sep}token=${encodeURIComponent(token)}` : path);
const $ = (id) => document.getElementById(id);

/** Last sample of every tag seen: key → [ts, value|null]. */
const tags = new Map();
/**
 * Charted tags: key → { plot, samples, el, last, hover }. `samples` are [s, value|null, reason?]
 * in time order; null is bad quality, drawn as a gap until the next good sample.
 */
const charts = new Map();
let chosen = new Set(JSON.parse(localStorage.getItem(CHOSEN_KEY) ?? '[]'));
let pickedByUser = chosen.size > 0;
/** The time window shown, seconds, always ending at now. */
let windowS = Number(localStorage.getItem(WINDOW_KEY)) || 300;

const nowS = () => Date.now() / 1000;

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

/** The sample in force at time t (seconds): the last one at or before it, held until the next. */
function sampleAt(samples, t) {
  let found;
  for (const s of samples) {
    if (s[0] > t) break;
    found = s;
  }
  return found;
}

/** Light red bands where quality was bad: from a bad sample to the next good one (or now). */
function drawGaps(u, samples) {
  const { ctx, bbox } = u;
  const end = u.scales.x.max;
  ctx.save();
  ctx.fillStyle = GAP;
  for (let i = 0; i < samples.length; i++) {
    if (samples[i][1] !== null) continue;
    let j = i;
    while (j + 1 < samples.length && samples[j + 1][1] === null) j++;
    const to = j + 1 < samples.length ? samples[j + 1][0] : end;
    const x0 = Math.max(bbox.left, u.valToPos(samples[i][0], 'x', true));
    const x1 = Math.min(bbox.left + bbox.width, u.valToPos(to, 'x', true));
    if (x1 > x0) ctx.fillRect(x0, bbox.top, x1 - x0, bbox.height);
    i = j;
  }
  ctx.restore();
}

function addChart(key) {
  const el = document.createElement('div');
  el.className = 'chart';
  el.dataset.tag = key;
  el.dataset.points = '0';
  const title = document.createElement('h2');
  const last = document.createElement('span');
  last.className = 'last';
  const hover = document.createElement('span');
  hover.className = 'hover';
  title.append(key, hover, last);
  el.append(title);
  $('charts').append(el);
  const samples = [];
  const first = tags.get(key);
  if (first) samples.push([first[0] / 1000, first[1]]);
  const chart = { samples, el, last, hover };
  chart.plot = new uPlot(
    {
      width: Math.max(300, $('charts').clientWidth - 16),
      height: 180,
      // A fixed window ending at now, whatever the data: one sample is not a time axis.
      scales: {
        x: {
          time: true,
          range: () => {
            const now = nowS();
            return [now - windowS, now];
          },
        },
      },
      series: [
        {},
        {
          label: key.split('/').pop(),
          stroke: LINE,
          width: 1.5,
          // Report by exception sends a value when it changes: it holds until the next sample.
          paths: uPlot.paths.stepped({ align: 1, alignGaps: 1 }),
          points: { show: false },
        },
      ],
      legend: { show: false },
      hooks: {
        drawClear: [(u) => drawGaps(u, chart.samples)],
        setCursor: [(u) => showHover(chart, u)],
        // After each draw: the axis range actually shown, for tests and scripts.
        draw: [
          (u) => {
            el.dataset.xMin = String(u.scales.x.min);
            el.dataset.xMax = String(u.scales.x.max);
          },
        ],
      },
    },
    plotData(chart),
    el,
  );
  charts.set(key, chart);
  refresh(chart);
  loadHistory(key, chart);
}

function showHover(chart, u) {
  if (u.cursor.left === undefined || u.cursor.left < 0) {
    chart.hover.textContent = '';
    return;
  }
  const t = u.posToVal(u.cursor.left, 'x');
  const s = sampleAt(chart.samples, t);
  const when = new Date(t * 1000).toLocaleTimeString();
  if (!s) chart.hover.textContent = `${when}: no data`;
  else if (s[1] === null) chart.hover.textContent = `${when}: bad – ${s[2] ?? 'no reason given'}`;
  else chart.hover.textContent = `${when}: ${fmt(s[1])}`;
}

/** The chart's data: its samples in the window, plus the last value held up to now. */
function plotData(chart) {
  const xs = [];
  const ys = [];
  for (const [t, v] of chart.samples) {
    xs.push(t);
    ys.push(v);
  }
  const now = nowS();
  if (xs.length > 0 && xs[xs.length - 1] < now) {
    xs.push(now);
    ys.push(ys[ys.length - 1]);
  }
  return [xs, ys];
}

/** The gateway's recent samples of a tag, merged before the live ones that came meanwhile. */
function loadHistory(key, chart) {
  fetch(withToken(`api/recent?tag=${encodeURIComponent(key)}&minutes=60`, '&'))
    .then((res) => (res.ok ? res.json() : undefined))
    .then((body) => {
      const h = body?.tags?.[key];
      if (!h || charts.get(key) !== chart) return;
      const firstLive = chart.samples.length > 0 ? chart.samples[0][0] : Infinity;
      const older = [];
      for (let i = 0; i < h.ts.length; i++) {
        const t = h.ts[i] / 1000;
        if (t < firstLive) older.push(h.v[i] === null ? [t, null, h.reasons[i]] : [t, h.v[i]]);
      }
      // The first live sample was the gateway's latest: the history's copy of it comes first.
      chart.samples.unshift(...older);
      refresh(chart);
    })
    .catch(() => {
      // No history (an older gateway): the chart fills from live samples.
    });
}

/** Drops samples older than the longest window, keeping the one in force at its start. */
function trim(chart) {
  const from = nowS() - MAX_WINDOW_S;
  let cut = 0;
  while (cut + 1 < chart.samples.length && chart.samples[cut + 1][0] <= from) cut++;
  if (cut > 0) chart.samples.splice(0, cut);
}

function refresh(chart) {
  trim(chart);
  chart.plot.setData(plotData(chart));
  const s = chart.samples[chart.samples.length - 1];
  chart.el.dataset.points = String(chart.samples.length);
  chart.el.dataset.held = s ? String(s[1]) : '';
  chart.last.textContent = s && s[1] === null ? 'BAD' : fmt(s?.[1]);
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
  const analog = (key) => samples[key].some(([, v]) => v !== null && v !== 0 && v !== 1);
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
    const latest = list[list.length - 1];
    tags.set(key, [latest[0], latest[1]]);
    const chart = charts.get(key);
    if (!chart) continue;
    for (const [ts, v, reason] of list) chart.samples.push([ts / 1000, v, reason]);
    refresh(chart);
  }
  const picked = autoPick(samples);
  syncCharts();
  if (added || picked) renderPicker();
}

function setWindow(seconds) {
  windowS = seconds;
  localStorage.setItem(WINDOW_KEY, String(seconds));
  for (const chart of charts.values()) refresh(chart);
}

function connect() {
  const events = new EventSource(withToken('events', '?'));
  events.addEventListener('tags', (e) => {
    for (const [key, sample] of Object.entries(JSON.parse(e.data))) tags.set(key, sample);
    renderPicker();
    syncCharts();
  });
  events.addEventListener('stats', (e) => {
    showStats(JSON.parse(e.data));
    // The window slides with the clock even when no tag changes.
    for (const chart of charts.values()) refresh(chart);
  });
  events.addEventListener('samples', (e) => onSamples(JSON.parse(e.data)));
  events.addEventListener('error', () => {
    $('status').textContent = 'reconnecting…';
    $('status').className = '';
  });
}

const picker = $('window');
picker.value = String(windowS);
if (picker.value !== String(windowS)) setWindow(Number((picker.value = '300')));
picker.addEventListener('change', () => setWindow(Number(picker.value)));
$('filter').addEventListener('input', renderPicker);
// For tests and the curious: the charts and their uPlot instances.
window.factorylmLive = { charts };
connect();
