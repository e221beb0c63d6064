import { freePort, startCli, type Running } from './processes.js';

export interface SimOrder {
  id: number;
  customId: string;
  title: string;
  description: string;
  priority: string;
  status: string;
  feedback: string | null;
  asset: { id: number; name: string } | null;
  comments: { content: string }[];
}

export interface SimCompany {
  company: string;
  users: string[];
  assets: { id: number; name: string; status: string }[];
  orders: SimOrder[];
}

export interface CmmsSim {
  /** API base URL. */
  url: string;
  process: Running;
  state(): Promise<SimCompany[]>;
  /** Orders of the first company (the default user's). */
  orders(): Promise<SimOrder[]>;
  stats(): Promise<{
    requests: number;
    byRoute: Record<string, number>;
    signIns: number;
    refreshes: number;
    authRefused: number;
    rateLimited: number;
    createsDropped: number;
  }>;
  faults(patch: Record<string, unknown>): Promise<void>;
  limits(patch: Record<string, unknown>): Promise<void>;
  expireTokens(refresh?: boolean): Promise<void>;
  stop(): Promise<void>;
}

export const SIM_USER = { email: 'maintenance@plant.example', password: 'pw-plant-1-secret' };

/** `factorylm sim cmms` as a real process, with its control API. */
export async function startCmmsSim(extra: string[] = []): Promise<CmmsSim> {
  const [port, controlPort] = await Promise.all([freePort(), freePort()]);
  const process = startCli([
    'sim',
    'cmms',
    '--port',
    String(port),
    '--control-port',
    String(controlPort),
    '--user',
    `${SIM_USER.email}:${SIM_USER.password}`,
    ...extra,
  ]);
  await process.waitForOutput(/control API on/);
  const control = `http://127.0.0.1:${controlPort}`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${control}${path}`, {
      method,
      ...(body !== undefined
        ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
        : {}),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<unknown>;
  };
  const state = () => call('GET', '/state') as Promise<SimCompany[]>;
  return {
    url: `http://127.0.0.1:${port}`,
    process,
    state,
    orders: async () => (await state())[0]!.orders,
    stats: () => call('GET', '/stats') as ReturnType<CmmsSim['stats']>,
    faults: async (patch) => void (await call('PUT', '/faults', patch)),
    limits: async (patch) => void (await call('PUT', '/limits', patch)),
    expireTokens: async (refresh = false) =>
      void (await call('POST', '/tokens/expire', { refresh })),
    stop: () => process.stop(),
  };
}
