import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AlarmEngine, alarmLine, alarmRulesSchema } from '../maintenance/alarms/index.js';
import { startPipeline, type Pipeline } from './support/pipeline.js';
import {
  influxQuery,
  startInfluxDb1,
  startMosquitto,
  type InfluxSeries,
  type Service,
} from './support/services.js';
import { waitFor } from './support/wait.js';

/**
 * Every query of every shipped Grafana dashboard (panel targets and template variables), with
 * its variables substituted the way Grafana's InfluxDB data source does, run against a real
 * InfluxDB 1.6 filled by the real pipeline: simulator → agent CLI → Mosquitto → gateway CLI.
 * Each must return data.
 */

const GRAFANA = 'deploy/grafana';
const DASHBOARDS = join(GRAFANA, 'dashboards');
const DATABASE = 'sensors';

interface Target {
  refId?: string;
  rawQuery?: boolean;
  query?: string;
  resultFormat?: string;
  datasource?: { type?: string; uid?: string };
}

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
  gridPos?: { h: number; w: number; x: number; y: number };
}

interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
  multi?: boolean;
  includeAll?: boolean;
  datasource?: { type?: string; uid?: string };
}

interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  time: { from: string; to: string };
  templating: { list: Variable[] };
  panels: Panel[];
}

interface Query {
  where: string;
  query: string;
}

const files = readdirSync(DASHBOARDS)
  .filter((f) => f.endsWith('.json'))
  .sort();
const dashboards = files.map(
  (f) => [f, JSON.parse(readFileSync(join(DASHBOARDS, f), 'utf8')) as Dashboard] as const,
);
const datasourceUid = (
  parse(readFileSync(join(GRAFANA, 'provisioning/datasources/influxdb.yaml'), 'utf8')) as {
    datasources: { uid: string; type: string }[];
  }
).datasources[0]!.uid;

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

const variableQuery = (v: Variable) => (typeof v.query === 'string' ? v.query : v.query.query);

/** Grafana's regex escaping of variable values (public/app/features/templating). */
const escapeRegex = (s: string) => s.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');

/** `$name`, `${name}`, `${name:format}`, `[[name]]`: Grafana's variable reference syntax. */
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;

/** The values Grafana would put in for the dashboard's built-in variables. */
function builtIns(dashboard: Dashboard, now: number): Record<string, string> {
  const relative = /^now-(\d+)([smhd])$/.exec(dashboard.time.from);
  if (!relative || dashboard.time.to !== 'now')
    throw new Error(`${dashboard.uid}: unsupported time range ${JSON.stringify(dashboard.time)}`);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 's'];
  const from = now - Number(relative[1]) * unit;
  const filter = `time >= ${from}ms and time <= ${now}ms`;
  // A 1 h range over a panel about 700 px wide: Grafana rounds 3600 s / 700 to 5 s.
  return {
    timeFilter: filter,
    __timeFilter: filter,
    __interval: '5s',
    interval: '5s',
    __interval_ms: '5000',
    __from: String(from),
    __to: String(now),
    __range: `${Math.round((now - from) / 1000)}s`,
    __range_s: String(Math.round((now - from) / 1000)),
    __range_ms: String(now - from),
  };
}

/**
 * Replaces every variable reference the way Grafana's InfluxDB data source does: a multi-value
 * or include-all variable becomes its regex-escaped values, `(a|b)` for several; a single-value
 * variable its raw value. Throws on a reference to no known variable.
 */
function interpolate(
  query: string,
  values: Map<string, { variable: Variable; values: string[] }>,
  builtin: Record<string, string>,
): string {
  return query.replace(
    VARIABLE,
    (whole, a?: string, b?: string, bFmt?: string, c?: string, _f?: string, cFmt?: string) => {
      const name = (a ?? b ?? c)!;
      if (bFmt ?? cFmt) throw new Error(`${whole}: variable formats are not handled by this test`);
      if (name in builtin) return builtin[name]!;
      const v = values.get(name);
      if (!v) throw new Error(`${whole}: no such variable on the dashboard`);
      if (!v.variable.multi && !v.variable.includeAll) return v.values[0]!;
      const escaped = v.values.map(escapeRegex);
      return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`;
    },
  );
}

/**
 * Columns that may be empty here: `text` holds string tags, and the Micro 820 has none. Every
 * other column must hold a value, so a misspelt field beside a correct one is caught too.
 */
const MAY_BE_EMPTY = new Set(['text']);

/** Why a result is not data: no series, no rows, or a column (other than time) never filled. */
function noData(series: InfluxSeries[]): string | undefined {
  if (series.length === 0) return 'no series';
  const columns = series[0]!.columns;
  const empty = columns.filter(
    (c, i) =>
      i > 0 &&
      !MAY_BE_EMPTY.has(c) &&
      !series.some((s) => s.values.some((row) => row[i] !== null && row[i] !== undefined)),
  );
  if (empty.length > 0) return `no value in column ${empty.join(', ')}`;
  return undefined;
}

/**
 * Resolves the dashboard's variables in order (each from its own query, with the variables
 * before it substituted), then runs every panel query. Returns one line per failure.
 */
async function checkDashboard(
  url: string,
  file: string,
  dashboard: Dashboard,
  queries: Query[] = [],
): Promise<string[]> {
  const failures: string[] = [];
  const builtin = builtIns(dashboard, Date.now());
  const values = new Map<string, { variable: Variable; values: string[] }>();
  for (const variable of dashboard.templating.list) {
    const where = `${file} variable $${variable.name}`;
    if (variable.type !== 'query') {
      failures.push(`${where}: type ${variable.type} is not checked by this test`);
      continue;
    }
    try {
      const query = interpolate(variableQuery(variable), values, builtin);
      queries.push({ where, query });
      const series = await influxQuery(url, query, DATABASE);
      const found = [...new Set(series.flatMap((s) => s.values.map((row) => String(row[1]))))];
      if (found.length === 0) failures.push(`${where}: no values from ${query}`);
      values.set(variable.name, { variable, values: found });
    } catch (err) {
      failures.push(`${where}: ${(err as Error).message}`);
    }
  }
  for (const panel of allPanels(dashboard.panels)) {
    for (const target of panel.targets ?? []) {
      const where = `${file} panel ${panel.id} "${panel.title}" ${target.refId}`;
      try {
        const query = interpolate(target.query ?? '', values, builtin);
        queries.push({ where, query });
        const problem = noData(await influxQuery(url, query, DATABASE));
        if (problem) failures.push(`${where}: ${problem} from ${query}`);
      } catch (err) {
        failures.push(`${where}: ${(err as Error).message}`);
      }
    }
  }
  return failures;
}

/**
 * Alarm events as the maintenance bridge writes them: the alarm engine on the Micro 820 preset
 * and a temperature rule, fed samples over the last ten minutes, each event through alarmLine
 * with the work order the CMMS gave its alarm. Returns how many lines InfluxDB took.
 */
async function writeAlarmEvents(url: string): Promise<number> {
  const start = Date.now() - 10 * 60_000;
  let now = start;
  const lines: string[] = [];
  const workOrders = new Map<string, string>();
  const engine = new AlarmEngine(
    {
      rules: alarmRulesSchema.parse([
        { kind: 'micro820', asset: '*', onDelayMs: 0, offDelayMs: 0 },
        {
          name: 'temperature_high',
          asset: '*',
          tag: 'temperature',
          kind: 'high',
          limit: 90,
          deadband: 2,
          unit: '°C',
          severity: 'critical',
          onDelayMs: 0,
          offDelayMs: 0,
        },
      ]),
    },
    {
      now: () => now,
      onEvent: (e) => {
        if (e.kind === 'raised' && !workOrders.has(e.key))
          workOrders.set(e.key, `WO${String(101 + workOrders.size).padStart(6, '0')}`);
        lines.push(alarmLine(e, workOrders.get(e.key)));
      },
    },
  );
  const at = (minute: number, asset: string, tag: string, value: number | boolean) => {
    now = start + minute * 60_000;
    engine.onSample({
      site: 'plant1',
      area: 'packaging',
      line: 'line1',
      asset,
      tag,
      node: 'edge-01',
      value,
      quality: 'good',
      ts: now,
    });
  };
  at(0, 'conveyor1', 'error_code', 1);
  at(2, 'conveyor1', 'error_code', 0);
  engine.ack('plant1/conveyor1/error_code', 'anna');
  at(3, 'conveyor1', 'fault_alarm', true);
  at(4, 'conveyor2', 'temperature', 95.5);
  at(5, 'conveyor2', 'e_stop_active', true);
  engine.ack('plant1/conveyor2/e_stop_active', 'anna');
  const res = await fetch(`${url}/write?db=${DATABASE}&precision=ms`, {
    method: 'POST',
    body: lines.join('\n'),
  });
  if (res.status !== 204) throw new Error(`alarm lines refused: ${res.status} ${await res.text()}`);
  return lines.length;
}

describe('Grafana dashboards (static checks)', () => {
  it('finds the five dashboards', () => {
    expect(files).toEqual([
      'alarms.json',
      'asset-detail.json',
      'edge-fleet-health.json',
      'gateway-health.json',
      'plant-overview.json',
    ]);
  });

  it.each(dashboards)(
    '%s is a Grafana 10/11 dashboard whose queries are raw InfluxQL',
    (file, d) => {
      expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
      expect(d.uid).toMatch(/^[\w-]{1,40}$/);
      expect(d.title).toBeTruthy();
      const panels = allPanels(d.panels);
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size, `${file}: panel ids are unique`).toBe(ids.length);
      for (const p of panels) {
        expect(p.gridPos, `${file} panel ${p.id} gridPos`).toBeDefined();
        if (p.type === 'row' || p.type === 'text') continue;
        expect(p.datasource?.uid, `${file} panel ${p.id} data source`).toBe(datasourceUid);
        expect(p.targets?.length, `${file} panel ${p.id} has queries`).toBeGreaterThan(0);
        const refIds = p.targets!.map((t) => t.refId);
        expect(new Set(refIds).size, `${file} panel ${p.id} refIds are unique`).toBe(refIds.length);
        for (const t of p.targets!) {
          expect(t.rawQuery, `${file} panel ${p.id} ${t.refId} is raw InfluxQL`).toBe(true);
          expect(t.query, `${file} panel ${p.id} ${t.refId} query`).toMatch(/^(SELECT|SHOW) /);
          expect(['time_series', 'table']).toContain(t.resultFormat);
          expect(t.datasource?.uid).toBe(datasourceUid);
        }
      }
      for (const v of d.templating.list) {
        expect(v.datasource?.uid, `${file} variable ${v.name} data source`).toBe(datasourceUid);
        expect(variableQuery(v)).toMatch(/^SHOW TAG VALUES /);
      }
    },
  );

  it('every dashboard uid is unique', () => {
    const uids = dashboards.map(([, d]) => d.uid);
    expect(new Set(uids).size).toBe(uids.length);
  });
});

describe('Grafana dashboards against InfluxDB 1.6 filled by the pipeline', () => {
  let mosquitto: Service;
  let influx: Service;
  let pipeline: Pipeline;

  beforeAll(async () => {
    [mosquitto, influx] = await Promise.all([startMosquitto(), startInfluxDb1(DATABASE)]);
    pipeline = await startPipeline(
      'grafana',
      mosquitto.url,
      { api: 'v1', url: influx.url, database: DATABASE },
      // Agent health every second instead of every 10 s, so rates have points to work from.
      { HEALTH_PUBLISH_MS: '1000' },
    );
    const count = async (measurement: string, field: string) =>
      Number(
        (
          await influxQuery(influx.url, `SELECT count("${field}") FROM "${measurement}"`, DATABASE)
        )[0]?.values[0]?.[1] ?? 0,
      );
    // The gateway writes gateway_health at start and every 10 s: two points make its rates.
    await waitFor(
      'tags, agent health and two gateway health points in InfluxDB',
      async () =>
        (await count('plc_tags', 'quality')) >= 24 &&
        (await count('edge_agent_health', 'up')) >= 10 &&
        (await count('edge_device_health', 'connected')) >= 10 &&
        (await count('gateway_health', 'messages')) >= 2,
      40_000,
      500,
    );
    // raised, cleared and acked error_code; raised fault_alarm, temperature_high, e_stop_active; acked e_stop_active.
    expect(await writeAlarmEvents(influx.url)).toBe(7);
  }, 90_000);

  afterAll(async () => {
    await pipeline?.stop();
    await Promise.all([mosquitto?.stop(), influx?.stop()]);
  });

  it('every panel and variable query of every dashboard returns data', async () => {
    const failures: string[] = [];
    const queries: Query[] = [];
    for (const [file, d] of dashboards)
      failures.push(...(await checkDashboard(influx.url, file, d, queries)));
    expect(failures).toEqual([]);
    // The count guards against a dashboard whose queries the walk above silently missed.
    const panelTargets = dashboards.reduce(
      (n, [, d]) => n + allPanels(d.panels).reduce((m, p) => m + (p.targets?.length ?? 0), 0),
      0,
    );
    const variables = dashboards.reduce((n, [, d]) => n + d.templating.list.length, 0);
    expect(queries.length).toBe(panelTargets + variables);
  });

  it('the check catches a broken panel query and a variable that finds nothing', async () => {
    const [file, original] = dashboards.find(([f]) => f === 'plant-overview.json')!;
    const brokenPanel = structuredClone(original);
    const target = allPanels(brokenPanel.panels).find((p) => p.targets?.length)!.targets![0]!;
    target.query = target.query!.replace('"plc_tags"', '"plc_tag"');
    expect(await checkDashboard(influx.url, file, brokenPanel)).toEqual([
      expect.stringMatching(/panel \d+ "Assets reporting" A: no series from .*"plc_tag"/),
    ]);
    // A misspelt field beside a correct one still returns rows: its empty column is caught.
    const [fleetFile, fleet] = dashboards.find(([f]) => f === 'edge-fleet-health.json')!;
    const brokenField = structuredClone(fleet);
    const latency = allPanels(brokenField.panels).find((p) => p.title === 'Poll latency')!;
    latency.targets![0]!.query = latency.targets![0]!.query!.replace(
      '"poll_latency_ms"',
      '"poll_latency"',
    );
    expect(await checkDashboard(influx.url, fleetFile, brokenField)).toEqual([
      expect.stringMatching(/"Poll latency" A: no value in column p99 from/),
    ]);
    const brokenVariable = structuredClone(original);
    brokenVariable.templating.list[0]!.query = 'SHOW TAG VALUES FROM "plc_tags" WITH KEY = "sight"';
    expect(await checkDashboard(influx.url, file, brokenVariable)).toContainEqual(
      expect.stringMatching(/variable \$site: no values/),
    );
  });
});
