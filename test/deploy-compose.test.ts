import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePort, runCli, start, startCli, type Running } from './support/processes.js';
import { startMosquitto, startVictoriaMetrics, type Service } from './support/services.js';

/**
 * The compose stack cannot run here (no Docker engine): this checks it with Debian's
 * docker-compose parser and cross-checks it against the code — env names the configs read,
 * Grafana provisioning paths, the files the Dockerfile copies — and runs the gateway's
 * healthcheck command against a real gateway started with the compose gateway.yaml, and the
 * compose Mosquitto config in a real Mosquitto.
 */
const DIR = resolve('deploy/compose');
const FILES = ['docker-compose.yml', 'atlas.yml'];

interface ComposeService {
  image?: string;
  build?: unknown;
  profiles?: string[];
  environment?: Record<string, string | null>;
  healthcheck?: { test: string[] | string };
  /** docker-compose 1.x prints the short syntax, `source:target[:mode]`. */
  volumes?: string[];
  ports?: { target: number; published: string | number }[];
  restart?: string;
}
interface Compose {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
  secrets: Record<string, { file: string }>;
}

interface Mount {
  type: 'volume' | 'bind';
  source: string;
  target: string;
}

function mounts(s: ComposeService): Mount[] {
  return (s.volumes ?? []).map((v) => {
    const [source = '', target = ''] = v.split(':');
    return { type: source.startsWith('/') ? 'bind' : 'volume', source, target };
  });
}

function composeConfig(): Compose {
  const out = execFileSync(
    'docker-compose',
    ['--env-file', '.env.example', ...FILES.flatMap((f) => ['-f', f]), 'config'],
    { cwd: DIR, encoding: 'utf8' },
  );
  return parse(out) as Compose;
}

/** `${NAME}`, `${NAME:-x}`, `${NAME:?x}` in a text; `$${…}` is an escaped dollar, not a variable. */
function variables(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/(?<!\$)\$\{([A-Z0-9_]+)/g)) names.add(m[1]!);
  return names;
}

function envExample(): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of readFileSync(join(DIR, '.env.example'), 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) env.set(m[1]!, m[2]!);
  }
  return env;
}

let compose: Compose;
beforeAll(() => {
  compose = composeConfig();
});

describe('compose documents', () => {
  it('parse with docker-compose and hold the central stack, Atlas and the profiles', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      [
        'agent',
        'atlas-api',
        'atlas-frontend',
        'atlas-minio',
        'atlas-postgres',
        'gateway',
        'grafana',
        'influxdb',
        'mosquitto',
        'n8n',
        'ollama',
        'plc-sim',
      ].sort(),
    );
    expect(compose.services.agent!.profiles).toEqual(['demo']);
    expect(compose.services['plc-sim']!.profiles).toEqual(['demo']);
    expect(compose.services.n8n!.profiles).toEqual(['n8n']);
    expect(compose.services.gateway!.profiles).toBeUndefined();
  });

  it('every service has a healthcheck, a restart policy and a pinned image', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      expect(s.healthcheck?.test, name).toBeTruthy();
      expect(s.restart, name).toBe('unless-stopped');
      expect(s.image, name).toMatch(/^[\w./-]+:[\w.-]+$/);
      expect(s.image, name).not.toMatch(/:latest$/);
    }
  });

  it('keeps state in named volumes and mounts only files that exist', () => {
    // Made on the server by the operator (README.md), never committed.
    const madeOnSite = new Set([join(DIR, 'mosquitto/passwd')]);
    for (const [name, s] of Object.entries(compose.services)) {
      for (const v of mounts(s)) {
        if (v.type === 'volume')
          expect(compose.volumes, `${name}: ${v.source}`).toHaveProperty(v.source);
        else if (!madeOnSite.has(v.source))
          expect(existsSync(v.source), `${name}: ${v.source}`).toBe(true);
      }
    }
    const stateful = [
      'mosquitto',
      'influxdb',
      'grafana',
      'gateway',
      'ollama',
      'atlas-postgres',
      'agent',
    ];
    for (const name of stateful) {
      expect(
        mounts(compose.services[name]!).some((v) => v.type === 'volume'),
        name,
      ).toBe(true);
    }
  });

  it('uses every .env.example name and defines every variable the documents use', () => {
    const env = envExample();
    const used = new Set<string>();
    for (const f of FILES)
      for (const v of variables(readFileSync(join(DIR, f), 'utf8'))) used.add(v);
    // Read by docker compose itself.
    const composeOwn = ['COMPOSE_FILE', 'COMPOSE_PROJECT_NAME'];
    for (const name of env.keys())
      if (!composeOwn.includes(name)) expect(used, name).toContain(name);
    for (const name of used) expect([...env.keys()], name).toContain(name);
    expect(env.get('COMPOSE_FILE')!.split(':')).toEqual(FILES);
  });

  it('publishes the ports the configs listen on', () => {
    const ports = (s: string) => compose.services[s]!.ports!.map((p) => p.target);
    expect(ports('mosquitto')).toEqual([1883]);
    expect(ports('gateway')).toEqual([
      parse(readFileSync(join(DIR, 'gateway.yaml'), 'utf8')).http.port,
    ]);
    expect(ports('grafana')).toEqual([3000]);
    expect(ports('influxdb')).toEqual([8086]);
  });
});

describe('cross-references', () => {
  it('gives the gateway every env name its compose config reads, and the config validates', async () => {
    const gateway = compose.services.gateway!;
    const config = readFileSync(join(DIR, 'gateway.yaml'), 'utf8');
    const env = gateway.environment!;
    for (const name of variables(config)) expect(Object.keys(env), name).toContain(name);
    // The maintenance bridge: the LLM and Atlas services of the stack, the password as a secret.
    expect(env.OLLAMA_URL).toBe('http://ollama:11434');
    expect(env.ATLAS_URL).toBe('http://atlas-api:8080');
    expect(env.ATLAS_PASSWORD_FILE).toBe(`/run/secrets/${Object.keys(compose.secrets)[0]}`);
    const strings = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v ?? '']));
    const { code, stdout, stderr } = await runCli(
      ['config', 'validate', join(DIR, 'gateway.yaml'), '--kind', 'gateway'],
      strings,
    );
    expect(code, stdout + stderr).toBe(0);
  });

  it('gives the demo agent what deploy/examples/micro820.yaml reads, and it validates', async () => {
    const agent = compose.services.agent!;
    const mount = mounts(agent).find((v) => v.target === '/etc/factorylm/agent.yaml')!;
    expect(mount.source).toBe(resolve('deploy/examples/micro820.yaml'));
    const env = Object.fromEntries(
      Object.entries(agent.environment!).map(([k, v]) => [k, v ?? '']),
    );
    const { code, stdout, stderr } = await runCli(
      ['config', 'validate', mount.source, '--kind', 'agent'],
      env,
    );
    expect(code, stdout + stderr).toBe(0);
    // The simulator listens where the agent polls.
    const probe = compose.services['plc-sim']!.healthcheck!.test;
    expect([probe].flat().join(' ')).toContain(env.PLC_PORT);
  });

  it('mounts Grafana provisioning where Grafana and our provider file look', () => {
    const grafana = compose.services.grafana!;
    const target = (t: string) => mounts(grafana).find((v) => v.target === t)?.source;
    expect(target('/etc/grafana/provisioning/datasources')).toBe(
      resolve('deploy/grafana/provisioning/datasources'),
    );
    expect(target('/etc/grafana/provisioning/dashboards')).toBe(
      resolve('deploy/grafana/provisioning/dashboards'),
    );
    const provider = parse(
      readFileSync('deploy/grafana/provisioning/dashboards/provider.yaml', 'utf8'),
    );
    const path = provider.providers[0].options.path as string;
    expect(target(path)).toBe(resolve('deploy/grafana/dashboards'));
    const datasource = readFileSync('deploy/grafana/provisioning/datasources/influxdb.yaml', 'utf8')
      .split('\n')
      .filter((line) => !line.trimStart().startsWith('#'))
      .join('\n');
    for (const name of variables(datasource))
      expect(Object.keys(grafana.environment!), name).toContain(name);
  });

  it('the Dockerfile copies every folder the build compiles and files that exist', () => {
    const dockerfile = readFileSync(join(DIR, 'Dockerfile'), 'utf8');
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      m[1]!.split(' '),
    );
    for (const src of copied) expect(existsSync(src), src).toBe(true);
    const build = JSON.parse(readFileSync('tsconfig.build.json', 'utf8')) as { include: string[] };
    for (const folder of build.include) expect(copied, folder).toContain(folder);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK [^\n]*\\\n[^\n]*healthcheck\.mjs[^\n]*\/health/m);
    expect(compose.services.gateway!.healthcheck!.test).toContain('/app/healthcheck.mjs');
  });
});

describe('healthcheck and broker config against real services', () => {
  let dir: string;
  let mosquitto: Service | undefined;
  let vm: Service | undefined;
  let gateway: Running | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'flm-compose-'));
  });
  afterAll(async () => {
    await gateway?.stop();
    await mosquitto?.stop();
    await vm?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const healthcheck = (url: string, token?: string) =>
    spawnSync(process.execPath, [join(DIR, 'healthcheck.mjs'), url], {
      env: { ...process.env, GATEWAY_HTTP_TOKEN: token ?? '' },
      encoding: 'utf8',
    }).status;

  it("the gateway's healthcheck passes on a healthy gateway and fails on a wrong token or none", async () => {
    mosquitto = await startMosquitto({ users: { 'factorylm-gateway': 'gw-secret' } });
    vm = await startVictoriaMetrics();
    const port = await freePort();
    // The compose gateway.yaml, but on a free port: the test shares its machine.
    const config = join(dir, 'gateway.yaml');
    writeFileSync(
      config,
      readFileSync(join(DIR, 'gateway.yaml'), 'utf8')
        .replace(/port: 8080/, `port: ${port}`)
        // Without Ollama and Atlas here the bridge would report them down in /health.
        .split(/^# Alarm rules/m)[0]!,
    );
    const env = {
      MQTT_URL: mosquitto.url,
      MQTT_USERNAME: 'factorylm-gateway',
      MQTT_PASSWORD: 'gw-secret',
      INFLUXDB_URL: vm.url,
      INFLUXDB_TOKEN: 'unused',
      INFLUXDB_ORG: 'factorylm',
      INFLUXDB_BUCKET: 'sensors',
      GATEWAY_HTTP_TOKEN: 'http-secret-0123456789',
      STATE_DIRECTORY: dir,
    };
    gateway = startCli(['gateway', '--config', config], env);
    await gateway.waitForOutput(/gateway http listening|health endpoint listening/, 30_000);
    const url = `http://127.0.0.1:${port}/health`;
    const deadline = Date.now() + 30_000;
    while (healthcheck(url, 'http-secret-0123456789') !== 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 250));
    expect(healthcheck(url, 'http-secret-0123456789')).toBe(0);
    expect(healthcheck(url, 'wrong')).toBe(1);
    await gateway.stop();
    expect(healthcheck(url, 'http-secret-0123456789')).toBe(1);
  });

  it('Mosquitto runs the compose config: the gateway user reads tags, anonymous only $SYS on loopback', async () => {
    const [main, health] = [await freePort(), await freePort()];
    const passwd = join(dir, 'passwd');
    execFileSync('mosquitto_passwd', ['-c', '-b', passwd, 'factorylm-gateway', 'gw']);
    execFileSync('mosquitto_passwd', ['-b', passwd, 'edge-01', 'agent']);
    const conf = readFileSync(join(DIR, 'mosquitto/mosquitto.conf'), 'utf8')
      .replace('listener 1883', `listener ${main} 127.0.0.1`)
      .replace('listener 1884 127.0.0.1', `listener ${health} 127.0.0.1`)
      .replaceAll('/mosquitto/config/passwd', passwd)
      .replaceAll('/mosquitto/config/acl', join(DIR, 'mosquitto/acl'))
      .replace('/mosquitto/data/', `${dir}/`);
    writeFileSync(join(dir, 'mosquitto.conf'), conf);
    execFileSync('chmod', ['-R', 'a+rwX', dir]);
    const broker = start('/usr/sbin/mosquitto', ['-c', join(dir, 'mosquitto.conf')]);
    try {
      await broker
        .waitForOutput(/running|Opening ipv4 listen socket/, 20_000)
        .catch(() => undefined);
      const sub = (port: number, topic: string, user?: [string, string]) =>
        spawnSync(
          'mosquitto_sub',
          [
            '-p',
            String(port),
            '-t',
            topic,
            '-C',
            '1',
            '-W',
            '3',
            ...(user ? ['-u', user[0], '-P', user[1]] : []),
          ],
          { encoding: 'utf8' },
        );
      const waitUp = Date.now() + 20_000;
      while (sub(health, '$SYS/broker/uptime').status !== 0 && Date.now() < waitUp)
        await new Promise((r) => setTimeout(r, 250));
      // The compose healthcheck's own command.
      expect(sub(health, '$SYS/broker/uptime').status).toBe(0);
      // No anonymous access on the main listener.
      expect(sub(main, '$SYS/broker/uptime').status).not.toBe(0);
      // An agent publishes a retained tag; the gateway user reads it, the ACL lets both.
      execFileSync('mosquitto_pub', [
        '-p',
        String(main),
        '-u',
        'edge-01',
        '-P',
        'agent',
        '-r',
        '-q',
        '1',
        '-t',
        'factorylm/plant1/packaging/line1/conveyor/motor_speed',
        '-m',
        '{"v":1}',
      ]);
      const got = sub(main, 'factorylm/#', ['factorylm-gateway', 'gw']);
      expect(got.stdout.trim()).toBe('{"v":1}');
    } finally {
      await broker.stop();
    }
  });
});
