import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { waitFor } from './wait.js';

export const CLI = join(process.cwd(), 'dist/cli/main.js');

/** A free TCP port on 127.0.0.1, released just before it is returned. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface Running {
  child: ChildProcess;
  output: () => string;
  /** Resolves when the output matches; rejects with the output so far when it does not in time. */
  waitForOutput: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
  /** SIGTERM, then SIGKILL after a grace period; resolves when the process is gone. */
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

/** Starts a process we own, capturing stdout and stderr together. */
export function start(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  cwd?: string,
): Running {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd,
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    waitForOutput: async (pattern, timeoutMs = 20_000) => {
      try {
        await waitFor(`${command} output ${pattern}`, () => pattern.test(out), timeoutMs);
      } catch (err) {
        throw new Error(
          `${(err as Error).message}\n--- output of ${command} ${args.join(' ')} ---\n${out.slice(-4000)}`,
          { cause: err },
        );
      }
    },
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs the built `factorylm` CLI. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  return start(process.execPath, [CLI, ...args], env);
}

/** Runs the CLI to completion and returns its exit code and output. */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? -1)));
  return { code, stdout, stderr };
}
