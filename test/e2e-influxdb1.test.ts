import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentConfig, ModbusDeviceConfig } from '../agent/config.js';
import type { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { mismatches, startPipeline, type Pipeline } from './support/pipeline.js';
import {
  influxQuery,
  startInfluxDb1,
  startMosquitto,
  type InfluxSeries,
  type Service,
} from './support/services.js';
import { waitFor } from './support/wait.js';

let mosquitto: Service;
let influx: Service;
let sim: Micro820Simulator;
let pipeline: Pipeline;
let config: AgentConfig;

beforeAll(async () => {
  [mosquitto, influx] = await Promise.all([startMosquitto(), startInfluxDb1('sensors')]);
  pipeline = await startPipeline('e2e-influx1', mosquitto.url, {
    api: 'v1',
    url: influx.url,
    database: 'sensors',
    legacyRegisters: true,
  });
  ({ sim, config } = pipeline);
});

afterAll(async () => {
  await pipeline?.stop();
  await Promise.all([mosquitto?.stop(), influx?.stop()]);
});

describe('simulator → agent → Mosquitto → gateway → InfluxDB 1.6 (/write, InfluxQL)', () => {
  it('stores every tag with its node, quality and the values the PLC served (±1 poll)', async () => {
    const names = config.devices[0]!.tags.map((t) => t.name);
    let series: InfluxSeries[] = [];
    await waitFor(
      'all 24 tags in InfluxDB',
      async () => {
        series = await influxQuery(
          influx.url,
          'SELECT "value", "quality", "node" FROM "plc_tags" GROUP BY "tag"',
          'sensors',
        );
        const current = series.find((s) => s.tags?.tag === 'motor_current');
        return (
          series.length === names.length && new Set(current?.values.map((v) => v[1])).size >= 3
        );
      },
      30_000,
      500,
    );
    expect(series.map((s) => s.tags!.tag).sort()).toEqual([...names].sort());
    for (const s of series) {
      expect(s.columns).toEqual(['time', 'value', 'quality', 'node']);
      const tag = s.tags!.tag!;
      const bits = (config.devices[0] as ModbusDeviceConfig).tags
        .find((t) => t.name === tag)!
        .address.toString()
        .startsWith('coil');
      for (const [, value, quality, node] of s.values) {
        expect(quality).toBe('good');
        expect(node).toBe('edge-01');
        // One field type for all tags (InfluxDB rejects mixed types in a field): bits are 0/1.
        expect(typeof value).toBe('number');
        if (bits) expect([0, 1]).toContain(value);
      }
      const points = s.values.map(([ts, value]) => ({
        ts: ts as number,
        value: value as number | boolean,
      }));
      expect(mismatches(sim, config, tag, points)).toEqual([]);
    }
  });

  it('also writes the legacy plc_registers, with each tag address from the manifest', async () => {
    const tags = (config.devices[0] as ModbusDeviceConfig).tags;
    let series: InfluxSeries[] = [];
    await waitFor(
      'all 24 tags in plc_registers with their addresses',
      async () => {
        series = await influxQuery(
          influx.url,
          'SELECT "value" FROM "plc_registers" GROUP BY "register_name", "register_addr"',
          'sensors',
        );
        return series.filter((s) => s.tags?.register_addr).length === tags.length;
      },
      30_000,
      500,
    );
    const withAddress = series.filter((s) => s.tags?.register_addr);
    expect(withAddress.map((s) => [s.tags!.register_name, s.tags!.register_addr]).sort()).toEqual(
      tags.map((t) => [t.name, String(t.address)]).sort(),
    );
    for (const s of withAddress) {
      const points = s.values.map(([ts, value]) => ({
        ts: ts as number,
        value: value as number | boolean,
      }));
      expect(mismatches(sim, config, s.tags!.register_name!, points)).toEqual([]);
    }
  });

  it('answers the kind of query a Grafana panel sends', async () => {
    const rows = await influxQuery(
      influx.url,
      `SELECT mean("value") FROM "plc_tags" WHERE "site" = 'plant1' AND "asset" = 'conveyor1' AND "tag" = 'temperature' AND time > now() - 5m GROUP BY time(1s) fill(none)`,
      'sensors',
    );
    expect(rows[0]?.values.length).toBeGreaterThan(0);
    for (const [, mean] of rows[0]!.values) expect(mean as number).toBeGreaterThan(20);
  });
});
