import { spawn } from 'node:child_process';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeTagPayload } from '../protocols/mqtt/payload.js';
import { freePort } from './support/processes.js';
import { waitFor } from './support/wait.js';

let stopDemo: (() => Promise<void>) | undefined;

afterAll(async () => {
  await stopDemo?.();
});

describe('npm start', () => {
  it('runs the demo with nothing else running, and data reaches its embedded broker', async () => {
    const port = await freePort();
    // `npm start` exactly as the README says, in its own process group so it stops as a whole.
    const child = spawn(
      'npm',
      ['start', '--', '--broker-port', String(port), '--fault-after', '5'],
      {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, INFLUXDB_URL: '' },
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    // 'close', not 'exit': npm exits on the signal at once, the demo under it writes to the same
    // pipes until it has stopped, and the pipes close only then.
    const exited = new Promise<number | null>((resolve) =>
      child.once('close', (code) => resolve(code)),
    );
    stopDemo = async () => {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGTERM');
      await exited;
    };

    await waitFor(
      'demo banner',
      () => out.includes(`broker mqtt://127.0.0.1:${port}`),
      30_000,
    ).catch((err) => {
      throw new Error(`${err.message}\n${out}`);
    });
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4 });
    const tags = new Map<string, unknown>();
    client.on('message', (topic, payload) => {
      const decoded = decodeTagPayload(payload);
      if (decoded.ok && decoded.value.q === 'good')
        tags.set(topic.split('/').pop()!, decoded.value.v);
    });
    await client.subscribeAsync('factorylm/plant1/packaging/line1/conveyor1/+', { qos: 1 });
    // Retained node status shows the agent is online on the embedded broker.
    const status = await new Promise<string>((resolve) => {
      client.on(
        'message',
        (topic, payload) => topic.endsWith('/_nodes/edge-01/status') && resolve(payload.toString()),
      );
      void client.subscribeAsync('factorylm/plant1/_nodes/edge-01/status');
    });
    expect(status).toBe('online');
    await waitFor(
      'a live motor speed',
      () =>
        typeof tags.get('motor_speed') === 'number' &&
        typeof tags.get('motor_current') === 'number',
      15_000,
    );
    await client.endAsync();
    // The live page, on a free port, with /health showing the agent online.
    const page = /Live page: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1];
    expect(page, out).toBeDefined();
    expect(await (await fetch(page!)).text()).toContain('uPlot.iife.min.js');
    const health = await (await fetch(`${page}health`)).json();
    expect(health).toMatchObject({ status: 'ok', name: 'demo', nodes: { online: 1 } });
    // The terminal summary shows live values and the gateway's counts.
    await waitFor(
      'summary with values',
      () => /motor_speed \d+ rpm/.test(out) && /points [1-9]\d*/.test(out),
      10_000,
    );
    // The twin is on: the demo's agent inventories this project and the gateway serves it.
    expect(out).toContain(`Fleet twin: ${page}twin`);
    await waitFor(
      'the demo node in the fleet twin',
      async () => {
        const res = await fetch(`${page}api/twin/nodes`);
        if (!res.ok) return false;
        const body = (await res.json()) as { nodes: { name: string; files: number }[] };
        return body.nodes.some((n) => n.name === 'edge-01' && n.files > 100);
      },
      60_000,
    );
    // The loop the product is for: the PLC trips, and a diagnosed work order appears in the CMMS.
    await waitFor(
      'the work order in the demo output',
      () =>
        /Work order WO000001 in the CMMS: "conveyor1: error_code = 1: motor overload", priority HIGH/.test(
          out,
        ),
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${out.slice(-4000)}`);
    });
    expect(out).toMatch(/Diagnosis \(LLM llama3\.2:3b/);
    expect(out).toMatch(/Probable causes:/);
    await stopDemo();
    // Logs for people, never JSON, on the demo's screen.
    expect(out).not.toMatch(/^\{"level"/m);
    // npm dies of the signal itself; the demo under it stops in order, without an error or a
    // warning about lines lost while it shuts down.
    expect(out).toContain('Demo stopped.');
    const shutdown = out.slice(out.indexOf('Stopping:'));
    expect(shutdown).not.toMatch(/ (WARN|ERROR|FATAL) /);
    expect(out).not.toMatch(/ (ERROR|FATAL) /);
    expect(out).not.toContain('Modbus line lost');
  });
});
