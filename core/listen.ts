import type { AddressInfo, Server } from 'node:net';

/**
 * Starts `server` listening and resolves with the port it bound (the one the OS chose for port
 * 0), or rejects with the listen error (EADDRINUSE, EACCES) instead of letting it become an
 * unhandled 'error' event. Later errors are the caller's: it attaches its own handler.
 */
export function listenOn(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
