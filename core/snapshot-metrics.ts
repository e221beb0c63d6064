import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { packageVersion } from './package-info.js';

/**
 * Prometheus metrics read from one snapshot of a component's counters per scrape, the way the
 * agent (`agent/metrics.ts`) and the gateway (`gateway/metrics.ts`) expose theirs: each keeps a
 * table of metrics here; the hot paths only bump plain numbers, and a scrape reads them all at
 * once, so the numbers of one scrape agree with each other.
 */

export type Labels = Record<string, string>;

/** Where a metric's series come from: its label names and a reading of the snapshot. */
export interface Source<S> {
  labelNames: string[];
  read(s: S): [Labels, number][];
}

/** One row of a component's table: name (after the prefix), help text, source. */
export type MetricRow<S> = [name: string, help: string, source: Source<S>];

/** One series without labels; none when `read` gives undefined (the part is not configured). */
export const one = <S>(read: (s: S) => number | boolean | undefined): Source<S> => ({
  labelNames: [],
  read: (s) => {
    const v = read(s);
    return v === undefined ? [] : [[{}, Number(v)]];
  },
});

/** One series per key of a record, the key as label `label`: `{result="accepted"} 5`. */
export const byKey = <S>(label: string, read: (s: S) => Record<string, number>): Source<S> => ({
  labelNames: [label],
  read: (s) => Object.entries(read(s)).map(([key, n]) => [{ [label]: key }, n]),
});

/**
 * `snapshot`, taken at most once per scrape. A registry calls all collect hooks synchronously at
 * the start of a scrape, so forgetting the snapshot in the next microtask keeps it for exactly
 * that scrape.
 */
export function oncePerScrape<S>(snapshot: () => S): () => S {
  let cached: S | undefined;
  return () => {
    if (cached === undefined) {
      cached = snapshot();
      queueMicrotask(() => (cached = undefined));
    }
    return cached;
  };
}

export interface SnapshotMetricsOptions<S> {
  /** Prepended to every name, the default process metrics' too: `factorylm_agent_`. */
  prefix: string;
  snapshot: () => S;
  counters: readonly MetricRow<S>[];
  gauges: readonly MetricRow<S>[];
  /** The `<prefix>info` gauge, always 1: its help, and the label naming this instance. */
  info: { help: string; label: string; value: (s: S) => string };
}

export interface SnapshotMetrics<S> {
  /** A registry of its own, never the global one a library might also fill. */
  registry: Registry;
  /** This scrape's snapshot, for metrics the caller adds to `registry` itself. */
  current: () => S;
}

/**
 * The default process metrics, then the counters, the gauges and the info gauge, in table order,
 * filled from the snapshot when scraped.
 */
export function createSnapshotMetrics<S>(options: SnapshotMetricsOptions<S>): SnapshotMetrics<S> {
  const { prefix, info } = options;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix });
  const current = oncePerScrape(options.snapshot);
  for (const [name, help, source] of options.counters)
    new Counter({
      name: prefix + name,
      help,
      labelNames: source.labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, value] of source.read(current())) this.inc(labels, value);
      },
    });
  for (const [name, help, source] of options.gauges)
    new Gauge({
      name: prefix + name,
      help,
      labelNames: source.labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, value] of source.read(current())) this.set(labels, value);
      },
    });
  const version = packageVersion();
  new Gauge({
    name: prefix + 'info',
    help: info.help,
    labelNames: [info.label, 'version'],
    registers: [registry],
    collect() {
      this.reset();
      this.set({ [info.label]: info.value(current()), version }, 1);
    },
  });
  return { registry, current };
}
