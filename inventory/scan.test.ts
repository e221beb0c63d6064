import { describe, expect, it } from 'vitest';
import { projectFor } from './scan.js';

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
