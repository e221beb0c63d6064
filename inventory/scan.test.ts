import { describe, expect, it } from 'vitest';
import { projectFor, redactCommand } from './scan.js';

describe('redactCommand', () => {
  it.each([
    ['/usr/bin/python3 /opt/app/main.py --port 80', '/usr/bin/python3 /opt/app/main.py --port 80'],
    ['/opt/bot --token abc123 --verbose', '/opt/bot --token [redacted] --verbose'],
    ['/opt/bot --api-key=abc123', '/opt/bot --api-key=[redacted]'],
    ['/opt/db -p 5432 --db-password s3cret', '/opt/db -p 5432 --db-password [redacted]'],
    ['/opt/x --auth-file /etc/x.auth', '/opt/x --auth-file [redacted]'],
    ['/opt/sync https://u:tok@git.example.com/r.git', '/opt/sync https://git.example.com/r.git'],
    ['/opt/x --token', '/opt/x --token'],
    ['/opt/x --secret --debug', '/opt/x --secret --debug'],
  ])('%s', (command, expected) => {
    expect(redactCommand(command)).toBe(expected);
  });
});

describe('projectFor', () => {
  const projects = ['/opt/app', '/opt/app/plugins/p1', '/opt/apps'];
  it.each([
    [['/opt/app'], '/opt/app'],
    [['/opt/app/plugins/p1/run.py'], '/opt/app/plugins/p1'],
    [['/opt/apps/x'], '/opt/apps'],
    [['/usr/bin/python3', '/opt/app/main.py'], '/opt/app'],
    [[undefined, 'relative/path', '/srv/none'], undefined],
  ])('%j → %s', (paths, expected) => {
    expect(projectFor(paths, projects)).toBe(expected);
  });
});
