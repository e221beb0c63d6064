import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { start, startCli, type Running } from './support/processes.js';
import { startMosquitto, type Service } from './support/services.js';
import { waitFor } from './support/wait.js';

/**
 * The gateway under a `Type=notify` unit with `WatchdogSec=`, as systemd runs it: NOTIFY_SOCKET
 * is a real AF_UNIX datagram socket (a Python receiver standing in for PID 1, which does not run
 * in a container) and the messages are sent by the real systemd-notify.
 */
const RECEIVER = `
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('bound', flush=True)
while True:
    data, anc, flags, addr = s.recvmsg(4096, 1024)
    # systemd-notify's barrier passes a file descriptor and waits until it is closed.
    for level, kind, raw in anc:
        fds = array.array('i')
        fds.frombytes(raw[: len(raw) - len(raw) % 4])
        for fd in fds:
            os.close(fd)
    print(data.decode().replace('\\n', ' '), flush=True)
`;

let dir: string;
let receiver: Running;
let mosquitto: Service;
let gateway: Running | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flm-notify-'));
  writeFileSync(join(dir, 'receiver.py'), RECEIVER);
  receiver = start('python3', [join(dir, 'receiver.py'), join(dir, 'notify.sock')]);
  await receiver.waitForOutput(/bound/);
  mosquitto = await startMosquitto();
});

afterAll(async () => {
  await gateway?.stop();
  await receiver?.stop();
  await mosquitto?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('systemd notification from the gateway', () => {
  it('says READY=1 with its pid once started, pings the watchdog, and says STOPPING=1', async () => {
    const config = join(dir, 'gateway.yaml');
    writeFileSync(
      config,
      stringify({
        name: 'notify',
        mqtt: { url: mosquitto.url },
        influx: { api: 'v2', url: 'http://127.0.0.1:9', token: 'x', org: 'o', bucket: 'b' },
      }),
    );
    gateway = startCli(['gateway', '--config', config], {
      NOTIFY_SOCKET: join(dir, 'notify.sock'),
      WATCHDOG_USEC: '2000000',
      STATE_DIRECTORY: dir,
    });
    const pid = gateway.child.pid!;
    await receiver.waitForOutput(new RegExp(`MAINPID=${pid} READY=1`), 60_000);
    const pings = () =>
      receiver.output().match(new RegExp(`MAINPID=${pid} WATCHDOG=1`, 'g'))?.length ?? 0;
    await waitFor('three watchdog pings (one a second)', () => pings() >= 3, 30_000);
    expect(gateway.output()).toMatch(/"watchdogMs":2000,"pingMs":1000/);
    await gateway.stop();
    await receiver.waitForOutput(new RegExp(`MAINPID=${pid} STOPPING=1`), 10_000);
    // READY first, STOPPING last.
    const messages = receiver
      .output()
      .split('\n')
      .filter((l) => l.startsWith(`MAINPID=${pid}`));
    expect(messages[0]).toBe(`MAINPID=${pid} READY=1`);
    expect(messages.at(-1)).toBe(`MAINPID=${pid} STOPPING=1`);
  });

  it('without NOTIFY_SOCKET it does not try to notify', async () => {
    const config = join(dir, 'gateway.yaml');
    const plain = startCli(['gateway', '--config', config], { STATE_DIRECTORY: dir });
    try {
      await plain.waitForOutput(/gateway started|subscribed|connected/i, 60_000);
      expect(plain.output()).not.toMatch(/systemd/);
    } finally {
      await plain.stop();
    }
  });
});
