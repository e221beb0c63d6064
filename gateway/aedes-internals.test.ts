import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { Readable } from 'node:stream';
import { Aedes, type Client } from 'aedes';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenOn } from '../core/listen.js';
import { waitFor } from '../test/support/wait.js';
import {
  connectedClient,
  createMemoryStore,
  MEMORY_STORE_METHODS,
  pendingWill,
  VERIFIED_AEDES,
  VERIFIED_AEDES_PERSISTENCE,
} from './aedes-internals.js';

const installed = (name: string): string =>
  (
    JSON.parse(
      readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8'),
    ) as { version: string }
  ).version;

const AEDES = installed('aedes');
const AEDES_PERSISTENCE = installed('aedes-persistence');

/** What authenticate saw of each client, read through the adapter while it ran. */
const seen: { id: string; will: { topic: string } | undefined; holder: Client | undefined }[] = [];
let broker: Aedes;
let server: Server;
let url: string;

beforeAll(async () => {
  broker = await Aedes.createBroker({
    authenticate: (client, _user, _password, done) => {
      seen.push({
        id: client.id,
        will: pendingWill(client),
        holder: connectedClient(broker, client.id),
      });
      done(null, true);
    },
  });
  server = createServer((socket) => broker.handle(socket));
  const port = await listenOn(server, 0, '127.0.0.1');
  url = `mqtt://127.0.0.1:${port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => broker?.close(() => resolve()));
  await new Promise<void>((resolve) => server?.close(() => resolve()));
});

describe(`aedes ${AEDES} / aedes-persistence ${AEDES_PERSISTENCE} internals (gateway/aedes-internals.ts verified against aedes ${VERIFIED_AEDES}, aedes-persistence ${VERIFIED_AEDES_PERSISTENCE}), on a real aedes broker`, () => {
  it('runs on the versions the adapter was verified against', () => {
    // An upgrade stops here first: re-read what aedes-internals.ts names, rerun this file, then
    // move VERIFIED_AEDES / VERIFIED_AEDES_PERSISTENCE.
    expect(AEDES, 'aedes changed: re-check gateway/aedes-internals.ts').toBe(VERIFIED_AEDES);
    expect(
      AEDES_PERSISTENCE,
      'aedes-persistence changed: re-check gateway/aedes-internals.ts',
    ).toBe(VERIFIED_AEDES_PERSISTENCE);
  });

  it('pendingWill: the Will topic of a connecting client, during authenticate', async () => {
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 4,
      clientId: 'with-will',
      reconnectPeriod: 0,
      will: { topic: 'factorylm/s/_nodes/n/status', payload: Buffer.from('offline'), qos: 1 },
    });
    const plain = await mqtt.connectAsync(url, {
      protocolVersion: 4,
      clientId: 'without-will',
      reconnectPeriod: 0,
    });
    expect(seen.find((s) => s.id === 'with-will')?.will?.topic).toBe('factorylm/s/_nodes/n/status');
    expect(seen.find((s) => s.id === 'without-will')?.will).toBeUndefined();
    await client.endAsync();
    await plain.endAsync();
  });

  it('connectedClient: the client holding an id, found when another connects with it', async () => {
    const first = await mqtt.connectAsync(url, {
      protocolVersion: 4,
      clientId: 'same-id',
      reconnectPeriod: 0,
    });
    expect(connectedClient(broker, 'same-id')?.id).toBe('same-id');
    expect(connectedClient(broker, 'nobody')).toBeUndefined();
    const second = await mqtt.connectAsync(url, {
      protocolVersion: 4,
      clientId: 'same-id',
      reconnectPeriod: 0,
    });
    const both = seen.filter((s) => s.id === 'same-id');
    expect(both).toHaveLength(2);
    expect(both[0]!.holder).toBeUndefined();
    expect(both[1]!.holder?.id).toBe('same-id');
    await second.endAsync();
    first.end(true);
    await waitFor('same-id gone', () => connectedClient(broker, 'same-id') === undefined);
  });

  it('fails loudly, not open, when aedes no longer has the fields', () => {
    expect(() => pendingWill({ id: 'x' } as unknown as Client)).toThrow(/client\._will/);
    expect(() => connectedClient({} as unknown as Aedes, 'x')).toThrow(/broker\.clients/);
  });

  it('createMemoryStore: aedes-persistence/asyncPersistence.js with every method the SQLite persistence wraps', async () => {
    const store = createMemoryStore();
    for (const method of MEMORY_STORE_METHODS)
      expect(typeof store[method], `aedes-persistence lost ${method}`).toBe('function');
    await store.setup(broker);
    await store.storeRetained({
      cmd: 'publish',
      topic: 'a/b',
      payload: Buffer.from('x'),
      qos: 0,
      retain: true,
    });
    const stream = store.createRetainedStream('a/#');
    expect(stream).toBeInstanceOf(Readable);
    const got = (await stream.toArray()) as { topic: string }[];
    expect(got.map((p) => p.topic)).toEqual(['a/b']);
    await store.destroy();
  });
});
