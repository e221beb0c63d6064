import { describe, expect, it } from 'vitest';
import { parseSystemctlShow, parseUnitFile, redactCommand } from './systemd.js';

describe('systemd unit files', () => {
  it.each([
    [
      'plain',
      '[Unit]\nDescription=x\n[Service]\nWorkingDirectory=/opt/app\nExecStart=/usr/bin/python3 /opt/app/main.py\n',
      { workingDirectory: '/opt/app', execStart: '/usr/bin/python3 /opt/app/main.py' },
    ],
    [
      'prefixes and a continued line',
      '[Service]\nWorkingDirectory=-/srv/x\nExecStart=-/usr/bin/node \\\n   /srv/x/index.js\nExecStart=/bin/second\n',
      { workingDirectory: '/srv/x', execStart: '/usr/bin/node /srv/x/index.js' },
    ],
    ['outside [Service]', '[Install]\nExecStart=/nope\n', {}],
  ])('%s', (_name, text, expected) => {
    expect(parseUnitFile(text)).toEqual(expected);
  });

  it('systemctl show blocks', () => {
    const text =
      'Id=a.service\nActiveState=active\n\nId=b.service\nActiveState=failed\n\nId=c.service\n';
    expect([...parseSystemctlShow(text)]).toEqual([
      ['a.service', 'active'],
      ['b.service', 'failed'],
    ]);
  });
});

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
