import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentConfig } from '../agent/config.js';
import type { Micro820Simulator } from '../simulators/micro820/simulator.js';
import { mismatches, startPipeline, type Pipeline } from './support/pipeline.js';
import type { Running } from './support/processes.js';
import {
  startMosquitto,
  startVictoriaMetrics,
  vmExport,
  type Service,
  type VmSeries,
} from './support/services.js';
import { waitFor } from './support/wait.js';

let mosquitto: Service;
let vm: Service;
let sim: Micro820Simulator;
let gateway: Running;
let pipeline: Pipeline;
let config: AgentConfig;

beforeAll(async () => {
  [mosquitto, vm] = await Promise.all([startMosquitto(), startVictoriaMetrics()]);
  pipeline = await startPipeline('e2e-vm', mosquitto.url, {
    api: 'v2',
    url: vm.url,
    org: 'factorylm',
    bucket: 'sensors',
  });
  ({ sim, gateway, config } = pipeline);
});

afterAll(async () => {
  await pipeline?.stop();
  await Promise.all([mosquitto?.stop(), vm?.stop()]);
});

describe('simulator → agent → Mosquitto → gateway → VictoriaMetrics', () => {
  it('stores every tag of the Micro 820 map with the values the PLC served (±1 poll)', async () => {
    const names = config.devices[0]!.tags.map((t) => t.name);
    // Wait for all tags, a motor at rated speed and several polls of a noisy analog tag, so the
    // value check below covers changing values and not just one snapshot.
    let series: VmSeries[] = [];
    await waitFor(
      'all 24 tags in VictoriaMetrics with a ramped motor',
      async () => {
        series = await vmExport(vm.url, '{__name__="plc_tags_value"}');
        const speed = series.find((s) => s.metric.tag === 'motor_speed');
        const current = series.find((s) => s.metric.tag === 'motor_current');
        return (
          series.length === names.length &&
          speed?.values.includes(1750) &&
          new Set(current?.values).size >= 3
        );
      },
      30_000,
      500,
    );
    expect(series.map((s) => s.metric.tag).sort()).toEqual([...names].sort());
    for (const s of series) {
      expect(s.metric).toMatchObject({
        site: 'plant1',
        area: 'packaging',
        line: 'line1',
        asset: 'conveyor1',
        node: 'edge-01',
      });
      const points = s.values.map((value, i) => ({ ts: s.timestamps[i]!, value }));
      expect(mismatches(sim, config, s.metric.tag!, points)).toEqual([]);
    }
  });

  it('counts malformed payloads and keeps storing good ones', async () => {
    const mqtt = await import('mqtt');
    const client = await mqtt.connectAsync(mosquitto.url);
    const topic = 'factorylm/plant1/packaging/line1/conveyor1/probe';
    for (const junk of [
      'not json',
      '{"v":[1],"ts":1732480000123}',
      '{"v":1,"ts":1732480000123,"q":"meh"}',
      '',
    ]) {
      await client.publishAsync(topic, junk, { qos: 1 });
    }
    const ts = Date.now();
    await client.publishAsync(topic, JSON.stringify({ v: 7.5, ts, q: 'good' }), { qos: 1 });
    await client.endAsync();
    const probe = await waitFor(
      'probe value stored after the junk',
      async () => {
        const series = await vmExport(vm.url, '{__name__="plc_tags_value",tag="probe"}');
        return series[0];
      },
      15_000,
      300,
    );
    expect(probe.values).toEqual([7.5]);
    expect(probe.timestamps).toEqual([ts]);
    expect(gateway.output()).toMatch(/"reason":"not-json".*"msg":"invalid message dropped"/);
    expect(gateway.output()).toMatch(/"reason":"bad-value"/);
    expect(gateway.output()).toMatch(/"reason":"bad-quality"/);
    expect(gateway.child.exitCode).toBeNull();
  });
});
