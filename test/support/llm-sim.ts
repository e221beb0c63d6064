import type { LlmFaultSettings } from '../../simulators/llm/faults.js';
import type { RecordedRequest } from '../../simulators/llm/server.js';
import { freePort, startCli, type Running } from './processes.js';

export interface LlmSim {
  process: Running;
  /** Base URL of the Ollama and OpenAI APIs. */
  url: string;
  setFaults(patch: Partial<LlmFaultSettings>): Promise<void>;
  clearFaults(): Promise<void>;
  requests(): Promise<RecordedRequest[]>;
  /** Generation requests (chat, generate, completions) received so far. */
  generations(): Promise<RecordedRequest[]>;
  clearRequests(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `factorylm sim llm` as a real process with its control API. */
export async function startLlmSim(
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<LlmSim> {
  const [port, controlPort] = await Promise.all([freePort(), freePort()]);
  const running = startCli(
    ['sim', 'llm', '--port', String(port), '--control-port', String(controlPort), ...args],
    env,
  );
  await running.waitForOutput(/control API on/);
  const control = `http://127.0.0.1:${controlPort}`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${control}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    if (res.status !== 200)
      throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
    return res.json() as Promise<unknown>;
  };
  const requests = async () => (await call('GET', '/requests')) as RecordedRequest[];
  return {
    process: running,
    url: `http://127.0.0.1:${port}`,
    setFaults: async (patch) => void (await call('PUT', '/faults', patch)),
    clearFaults: async () => void (await call('DELETE', '/faults')),
    requests,
    generations: async () =>
      (await requests()).filter((r) =>
        /^\/(api\/(chat|generate)|v1\/chat\/completions)$/.test(r.path),
      ),
    clearRequests: async () => void (await call('DELETE', '/requests')),
    stop: () => running.stop(),
  };
}
