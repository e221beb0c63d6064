import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { packageVersion } from './package-info.js';
import {
  byKey,
  createSnapshotMetrics,
  one,
  type MetricRow,
  type SnapshotMetricsOptions,
} from './snapshot-metrics.js';

interface Snap {
  id: string;
  n: number;
  up: boolean;
  optional?: number;
  byResult: Record<string, number>;
}

const base: Snap = { id: 'unit-1', n: 42, up: true, byResult: { ok: 3, failed: 1 } };

function metrics(
  counters: MetricRow<Snap>[],
  gauges: MetricRow<Snap>[],
  snapshot: () => Snap = () => base,
): SnapshotMetricsOptions<Snap> {
  return {
    prefix: 'test_',
    snapshot,
    counters,
    gauges,
    info: { help: 'Always 1', label: 'unit', value: (s) => s.id },
  };
}

/** The sample lines of an exposition without the default process metrics. */
async function samples(options: SnapshotMetricsOptions<Snap>): Promise<string[]> {
  const text = await createSnapshotMetrics(options).registry.metrics();
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#') && !/^test_(process|nodejs)_/.test(l));
}

const info = `test_info{unit="unit-1",version="${packageVersion()}"} 1`;

describe('createSnapshotMetrics', () => {
  it.each<{
    name: string;
    counters: MetricRow<Snap>[];
    gauges: MetricRow<Snap>[];
    lines: string[];
  }>([
    {
      name: 'a counter and a gauge without labels',
      counters: [['n_total', 'N', one((s) => s.n)]],
      gauges: [['up', 'Up', one((s) => s.up)]],
      lines: ['test_n_total 42', 'test_up 1', info],
    },
    {
      name: 'a false boolean is 0',
      counters: [],
      gauges: [['down', 'Down', one((s) => !s.up)]],
      lines: ['test_down 0', info],
    },
    {
      name: 'an absent part: a metric without labels shows 0 (prom-client)',
      counters: [['opt_total', 'Opt', one((s) => s.optional)]],
      gauges: [['opt', 'Opt', one((s) => s.optional)]],
      lines: ['test_opt_total 0', 'test_opt 0', info],
    },
    {
      name: 'one series per key',
      counters: [['results_total', 'R', byKey('result', (s) => s.byResult)]],
      gauges: [['results', 'R', byKey('result', (s) => s.byResult)]],
      lines: [
        'test_results_total{result="ok"} 3',
        'test_results_total{result="failed"} 1',
        'test_results{result="ok"} 3',
        'test_results{result="failed"} 1',
        info,
      ],
    },
    {
      name: 'an empty record: no series',
      counters: [['none_total', 'None', byKey('kind', () => ({}))]],
      gauges: [],
      lines: [info],
    },
  ])('$name', async ({ counters, gauges, lines }) => {
    expect(await samples(metrics(counters, gauges))).toEqual(lines);
  });

  it('declares help and type, counters first, then gauges, then info', async () => {
    const text = await createSnapshotMetrics(
      metrics([['a_total', 'Help of a', one((s) => s.n)]], [['b', 'Help of b', one((s) => s.n)]]),
    ).registry.metrics();
    const ours = text.slice(text.indexOf('# HELP test_a_total'));
    expect(ours).toBe(
      [
        '# HELP test_a_total Help of a',
        '# TYPE test_a_total counter',
        'test_a_total 42',
        '',
        '# HELP test_b Help of b',
        '# TYPE test_b gauge',
        'test_b 42',
        '',
        '# HELP test_info Always 1',
        '# TYPE test_info gauge',
        `test_info{unit="unit-1",version="${packageVersion()}"} 1`,
        '',
      ].join('\n'),
    );
  });

  it('takes one snapshot per scrape, and a new one for the next scrape', async () => {
    let taken = 0;
    const { registry, current } = createSnapshotMetrics(
      metrics([['n_total', 'N', one((s) => s.n)]], [['g', 'G', one((s) => s.n)]], () => ({
        ...base,
        n: ++taken,
      })),
    );
    expect(await registry.metrics()).toContain('test_n_total 1\n');
    expect(taken).toBe(1);
    const second = await registry.metrics();
    expect(second).toContain('test_n_total 2\n');
    expect(second).toContain('test_g 2\n');
    expect(taken).toBe(2);
    // `current` outside a scrape takes one and keeps it until the next microtask.
    expect(current().n).toBe(3);
    expect(current().n).toBe(3);
    await Promise.resolve();
    expect(current().n).toBe(4);
  });

  it('keeps to a registry of its own', async () => {
    await samples(metrics([['own_total', 'Own', one((s) => s.n)]], []));
    expect(await globalRegistry.getSingleMetric('test_own_total')).toBeUndefined();
  });
});
