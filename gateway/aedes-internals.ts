import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type { Aedes, Client } from 'aedes';

/**
 * The one place that touches aedes (and aedes-persistence) beyond their documented API. Read in
 * these versions; `aedes-internals.test.ts` runs them against a real aedes broker and fails when
 * an upgrade moves them. On an upgrade: re-read aedes's lib/handlers/connect.js and aedes.js and
 * aedes-persistence's asyncPersistence.js, rerun that test, then move these.
 */
export const VERIFIED_AEDES = '1.2.0';
export const VERIFIED_AEDES_PERSISTENCE = '11.0.0';

/**
 * The Will a connecting client asked for, while `authenticate` runs: aedes keeps it in the
 * client's private `_will` until the connection is accepted (`client.will` is set only after),
 * and the ACL must check its topic before that. Throws when aedes has no such field any more,
 * so a connection is refused rather than a Will let through unchecked.
 */
export function pendingWill(client: Client): { topic: string } | undefined {
  const target = client as unknown as { _will?: { topic: string } | null };
  if (!('_will' in target))
    throw new Error(
      'aedes has no client._will: the Will topic cannot be checked; re-check gateway/aedes-internals.ts',
    );
  return target._will ?? undefined;
}

/**
 * The client connected under `id`, from aedes's private `clients` map (aedes closes it when
 * another connects with its id). Throws when aedes has no such map any more.
 */
export function connectedClient(broker: Aedes, id: string): Client | undefined {
  const clients = (broker as unknown as { clients?: Record<string, Client> }).clients;
  if (clients === null || typeof clients !== 'object')
    throw new Error(
      'aedes has no broker.clients: a client id in use cannot be found; re-check gateway/aedes-internals.ts',
    );
  return clients[id];
}

interface ClientRef {
  id: string;
}

/** aedes-persistence's in-memory store (its async API), which the SQLite persistence wraps. */
export interface MemoryStore {
  setup(broker: Aedes): Promise<void>;
  storeRetained(packet: { topic: string; [key: string]: unknown }): Promise<void>;
  createRetainedStream(pattern: string): Readable;
  createRetainedStreamCombi(patterns: string[]): Readable;
  addSubscriptions(client: ClientRef, subs: unknown[]): Promise<void>;
  removeSubscriptions(client: ClientRef, subs: string[]): Promise<void>;
  subscriptionsByClient(client: ClientRef): Promise<unknown[]>;
  countOffline(): Promise<{ subsCount: number; clientsCount: number }>;
  subscriptionsByTopic(pattern: string): Promise<unknown[]>;
  cleanSubscriptions(client: ClientRef): Promise<void>;
  outgoingEnqueue(sub: unknown, packet: unknown): Promise<void>;
  outgoingEnqueueCombi(subs: unknown[], packet: unknown): Promise<void>;
  outgoingUpdate(client: ClientRef, packet: unknown): Promise<void>;
  outgoingClearMessageId(client: ClientRef, packet: unknown): Promise<unknown>;
  outgoingStream(client: ClientRef): Readable;
  incomingStorePacket(client: ClientRef, packet: unknown): Promise<void>;
  incomingGetPacket(client: ClientRef, packet: unknown): Promise<unknown>;
  incomingDelPacket(client: ClientRef, packet: unknown): Promise<void>;
  cleanIncoming(client: ClientRef): Promise<void>;
  getClientList(topic: string): Readable;
  destroy(): Promise<void>;
}

/** The methods of `MemoryStore`, for the contract test. */
export const MEMORY_STORE_METHODS = [
  'setup',
  'storeRetained',
  'createRetainedStream',
  'createRetainedStreamCombi',
  'addSubscriptions',
  'removeSubscriptions',
  'subscriptionsByClient',
  'countOffline',
  'subscriptionsByTopic',
  'cleanSubscriptions',
  'outgoingEnqueue',
  'outgoingEnqueueCombi',
  'outgoingUpdate',
  'outgoingClearMessageId',
  'outgoingStream',
  'incomingStorePacket',
  'incomingGetPacket',
  'incomingDelPacket',
  'cleanIncoming',
  'getClientList',
  'destroy',
] as const satisfies readonly (keyof MemoryStore)[];

// The package has no ESM entry for its async class, and aedes itself depends on this version.
const MemoryPersistence = createRequire(import.meta.url)(
  'aedes-persistence/asyncPersistence.js',
) as new () => MemoryStore;

/** A new aedes-persistence in-memory store, from a file outside the package's main entry. */
export function createMemoryStore(): MemoryStore {
  return new MemoryPersistence();
}
