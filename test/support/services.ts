import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, start, type Running } from './processes.js';
import { waitFor } from './wait.js';

/** A real service started by a test on free ports, in its own temporary folder. */
export interface Service {
  port: number;
  url: string;
  dir: string;
  process: Running;
  /** Stops the process (SIGTERM, or SIGKILL to simulate a crash) but keeps its data folder. */
  kill: (signal?: NodeJS.Signals) => Promise<void>;
  /** Stops the process and removes its folder. */
  stop: () => Promise<void>;
}

function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `factorylm-${name}-`));
  // Mosquitto drops root privileges to its own user and must still read its config.
  chmodSync(dir, 0o755);
  return dir;
}

async function ready(name: string, running: Running, probe: () => Promise<boolean>): Promise<void> {
  try {
    await waitFor(
      `${name} to accept connections`,
      async () => {
        if (running.child.exitCode !== null)
          throw new Error(`${name} exited with ${running.child.exitCode}`);
        return probe();
      },
      20_000,
      100,
    );
  } catch (err) {
    await running.stop('SIGKILL');
    throw new Error(
      `${(err as Error).message}\n--- ${name} output ---\n${running.output().slice(-3000)}`,
      { cause: err },
    );
  }
}

function service(port: number, url: string, dir: string, running: Running): Service {
  return {
    port,
    url,
    dir,
    process: running,
    kill: (signal = 'SIGTERM') => running.stop(signal),
    stop: async () => {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function tcpOpen(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface MosquittoOptions {
  port?: number;
  /** Reuse a folder (to restart a killed broker on the same port). */
  dir?: string;
  /** Refuse anonymous clients; accept only these users (a password_file made by mosquitto_passwd). */
  users?: Record<string, string>;
  /** Serve MQTT over TLS with these PEM files (the URL becomes mqtts://). */
  tls?: { ca: string; cert: string; key: string };
  /**
   * Keep sessions and retained messages in `dir`/data, saved every second, so a persistent
   * subscriber session survives a restart (even after SIGKILL, as of the last save).
   */
  persistence?: boolean;
  /** QoS 1 messages queued per client beyond those in flight; Mosquitto's default is 1000. */
  maxQueuedMessages?: number;
  /** QoS 1 messages in flight per client, 0 for no limit; Mosquitto's default is 20. */
  maxInflightMessages?: number;
}

/** Mosquitto 2 on 127.0.0.1; by default anonymous, plain TCP, no persistence. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Service> {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? tempDir('mosquitto');
  const conf = join(dir, 'mosquitto.conf');
  const lines = [`listener ${port} 127.0.0.1`];
  if (options.users) {
    const passwords = join(dir, 'passwords');
    rmSync(passwords, { force: true });
    for (const [user, password] of Object.entries(options.users)) {
      const create = existsSync(passwords) ? [] : ['-c'];
      execFileSync('mosquitto_passwd', [...create, '-b', passwords, user, password]);
    }
    // Mosquitto reads it after dropping root privileges.
    chmodSync(passwords, 0o644);
    lines.push('allow_anonymous false', `password_file ${passwords}`);
  } else lines.push('allow_anonymous true');
  if (options.tls) {
    lines.push(
      `cafile ${options.tls.ca}`,
      `certfile ${options.tls.cert}`,
      `keyfile ${options.tls.key}`,
    );
  }
  if (options.persistence) {
    const data = join(dir, 'data');
    mkdirSync(data, { recursive: true });
    // Written by the unprivileged mosquitto user.
    chmodSync(data, 0o777);
    lines.push('persistence true', `persistence_location ${data}/`, 'autosave_interval 1');
  } else lines.push('persistence false');
  if (options.maxQueuedMessages !== undefined)
    lines.push(`max_queued_messages ${options.maxQueuedMessages}`);
  if (options.maxInflightMessages !== undefined)
    lines.push(`max_inflight_messages ${options.maxInflightMessages}`);
  lines.push('log_dest stderr', 'log_type error', 'log_type warning', '');
  writeFileSync(conf, lines.join('\n'));
  chmodSync(conf, 0o644);
  const bin = '/usr/sbin/mosquitto';
  const running = start(bin, ['-c', conf]);
  await ready('mosquitto', running, () => tcpOpen(port));
  const scheme = options.tls ? 'mqtts' : 'mqtt';
  return service(port, `${scheme}://127.0.0.1:${port}`, dir, running);
}

/** Where to restart a stopped service: its port and data folder (from its `Service`). */
export interface RestartOptions {
  port?: number;
  dir?: string;
}

export interface VictoriaMetricsOptions extends RestartOptions {
  /** More command-line flags. */
  args?: string[];
}

/** VictoriaMetrics single node; accepts InfluxDB line protocol on /api/v2/write and /write. */
export async function startVictoriaMetrics(options: VictoriaMetricsOptions = {}): Promise<Service> {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? tempDir('victoria');
  const running = start('victoria-metrics', [
    `-storageDataPath=${dir}`,
    `-httpListenAddr=127.0.0.1:${port}`,
    '-retentionPeriod=100y',
    '-loggerLevel=ERROR',
    ...(options.args ?? []),
  ]);
  const url = `http://127.0.0.1:${port}`;
  await ready(
    'victoria-metrics',
    running,
    async () => (await fetch(`${url}/health`).catch(() => undefined))?.ok === true,
  );
  return service(port, url, dir, running);
}

export interface VmSeries {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

/** Every series matching `match`, after forcing VictoriaMetrics to make fresh rows searchable. */
export async function vmExport(url: string, match: string): Promise<VmSeries[]> {
  await fetch(`${url}/internal/force_flush`);
  const res = await fetch(`${url}/api/v1/export`, {
    method: 'POST',
    body: new URLSearchParams({ 'match[]': match }),
  });
  if (!res.ok) throw new Error(`export failed: HTTP ${res.status} ${await res.text()}`);
  return (await res.text())
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as VmSeries);
}

/** InfluxDB 1.x (`influxd`), HTTP on a free port, with database `sensors` created. */
export async function startInfluxDb1(
  database = 'sensors',
  options: RestartOptions = {},
): Promise<Service> {
  const port = options.port ?? (await freePort());
  const rpcPort = await freePort();
  const dir = options.dir ?? tempDir('influxdb');
  const conf = join(dir, 'influxdb.conf');
  writeFileSync(
    conf,
    [
      'reporting-disabled = true',
      `bind-address = "127.0.0.1:${rpcPort}"`,
      '[meta]',
      `  dir = "${dir}/meta"`,
      '[data]',
      `  dir = "${dir}/data"`,
      `  wal-dir = "${dir}/wal"`,
      '  query-log-enabled = false',
      '[http]',
      `  bind-address = "127.0.0.1:${port}"`,
      '  log-enabled = false',
      '[monitor]',
      '  store-enabled = false',
      '[continuous_queries]',
      '  enabled = false',
      '[subscriber]',
      '  enabled = false',
      '',
    ].join('\n'),
  );
  const running = start('influxd', ['run', '-config', conf]);
  const url = `http://127.0.0.1:${port}`;
  await ready(
    'influxd',
    running,
    async () => (await fetch(`${url}/ping`).catch(() => undefined))?.status === 204,
  );
  await influxQuery(url, `CREATE DATABASE "${database}"`);
  return service(port, url, dir, running);
}

export interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

/** Runs InfluxQL and returns the series of the first statement; epoch=ms timestamps. */
export async function influxQuery(url: string, q: string, db?: string): Promise<InfluxSeries[]> {
  const params = new URLSearchParams({ q, epoch: 'ms' });
  if (db) params.set('db', db);
  const res = await fetch(`${url}/query`, { method: 'POST', body: params });
  const body = (await res.json()) as {
    results?: { series?: InfluxSeries[]; error?: string }[];
    error?: string;
  };
  const first = body.results?.[0];
  if (!res.ok || body.error || first?.error)
    throw new Error(`InfluxQL "${q}" failed: ${body.error ?? first?.error ?? res.status}`);
  return first?.series ?? [];
}

export interface PtyPair {
  /** The simulator's end of the line. */
  a: string;
  /** The agent's end of the line. */
  b: string;
  stop: () => Promise<void>;
}

/** A serial line made of two pseudo-terminals joined by socat, as a null-modem cable would. */
export async function startPtyPair(): Promise<PtyPair> {
  const dir = tempDir('serial');
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const running = start('socat', [
    '-d',
    '-d',
    `pty,raw,echo=0,link=${a}`,
    `pty,raw,echo=0,link=${b}`,
  ]);
  await ready('socat', running, async () => existsSync(a) && existsSync(b));
  return {
    a,
    b,
    stop: async () => {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
