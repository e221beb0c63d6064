import { describe, expect, it } from 'vitest';
import { formatDryRun, type DryRunDevice, type DryRunReport } from './dry-run.js';

const device = (over: Partial<DryRunDevice>): DryRunDevice => ({
  name: 'plc',
  protocol: 'modbus-tcp',
  endpoint: 'tcp://10.0.0.5:502 unit 1',
  ok: true,
  answered: true,
  latencyMs: 12,
  plan: [
    { area: 'coil', start: 0, count: 1, tags: 1 },
    { area: 'hr', start: 100, count: 6, tags: 2 },
  ],
  tags: [
    { id: 'm/run', address: 'coil:0', raw: true, value: true, quality: 'good' },
    { id: 'm/amps', address: 'hr:101', raw: 93, value: 9.3, unit: 'A', quality: 'good' },
  ],
  messages: [{ topic: 'factorylm/s/a/l/m/run', payload: '{"v":true,"ts":1,"q":"good"}' }],
  ...over,
});

const report = (devices: DryRunDevice[], bad = { devices: 0, tags: 0 }): DryRunReport => ({
  node: 'edge',
  site: 's',
  output: 'json',
  qos: 1,
  devices,
  bad,
});

describe('formatDryRun', () => {
  it.each<{ name: string; report: DryRunReport; lines: (string | RegExp)[] }>([
    {
      name: 'a good device: plan, values with units and raw, messages, summary',
      report: report([device({})]),
      lines: [
        '✔ device plc (modbus-tcp tcp://10.0.0.5:502 unit 1): answered in 12 ms',
        '  plan: 2 requests per poll: coil:0 (1 bit, 1 tag), hr:100..105 (6 registers, 2 tags)',
        /^ {2}✔ m\/amps\s+hr:101\s+9\.3 A \(raw 93\)$/,
        '    factorylm/s/a/l/m/run  {"v":true,"ts":1,"q":"good"}',
        'All 1 device and 2 tags good.',
      ],
    },
    {
      name: 'a silent device: its reason and hint once, no per-tag hint',
      report: report(
        [
          device({
            ok: false,
            answered: false,
            reason: 'timeout',
            hint: 'no answer in time',
            tags: [
              {
                id: 'm/run',
                address: 'coil:0',
                raw: null,
                value: null,
                quality: 'bad',
                reason: 'timeout',
                hint: 'no answer in time',
              },
            ],
          }),
        ],
        { devices: 1, tags: 1 },
      ),
      lines: [
        '✖ device plc (modbus-tcp tcp://10.0.0.5:502 unit 1): no answer: timeout',
        '    → no answer in time',
        /^ {2}✖ m\/run\s+coil:0\s+bad: timeout$/,
        '1 device not answering, 1 bad tag.',
      ],
    },
    {
      name: 'a bad tag on a device that answers: the hint under the tag',
      report: report(
        [
          device({
            ok: false,
            tags: [
              {
                id: 'm/sp',
                address: 'hr:300',
                raw: null,
                value: null,
                quality: 'bad',
                reason: 'exception 2',
                hint: 'no such address',
              },
            ],
          }),
        ],
        { devices: 0, tags: 1 },
      ),
      lines: ['      → no such address', '0 devices not answering, 1 bad tag.'],
    },
  ])('$name', ({ report: r, lines }) => {
    const text = formatDryRun(r, 'agent.yaml').split('\n');
    expect(text[0]).toBe('Dry run of agent.yaml: node edge, site s, output json, QoS 1.');
    for (const line of lines) {
      if (typeof line === 'string') expect(text).toContain(line);
      else
        expect(
          text.some((t) => line.test(t)),
          `${line} in\n${text.join('\n')}`,
        ).toBe(true);
    }
  });

  it('gives no per-tag hint when the device itself did not answer', () => {
    const text = formatDryRun(
      report([
        device({
          ok: false,
          answered: false,
          reason: 'timeout',
          hint: 'H',
          tags: [{ id: 't', raw: null, value: null, quality: 'bad', reason: 'timeout', hint: 'H' }],
        }),
      ]),
      'a.yaml',
    );
    expect(text.match(/→ H/g)).toHaveLength(1);
  });
});
