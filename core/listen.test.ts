import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { listenOn } from './listen.js';

describe('listenOn', () => {
  const servers: Server[] = [];
  const server = () => {
    const s = createServer();
    servers.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(
      servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
  });

  it('resolves with the port the OS chose for port 0', async () => {
    const s = server();
    const port = await listenOn(s, 0, '127.0.0.1');
    expect(port).toBeGreaterThan(0);
    expect(s.listening).toBe(true);
  });

  it('rejects with the listen error when the port is taken, and leaves no error listener behind', async () => {
    const port = await listenOn(server(), 0, '127.0.0.1');
    const second = server();
    await expect(listenOn(second, port, '127.0.0.1')).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
    expect(second.listenerCount('error')).toBe(0);
  });
});
