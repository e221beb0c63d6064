import type { ProtocolDriver } from '../driver.js';
import { defaultPkiDir, opcuaDeviceSchema } from './config.js';
import { prepareOpcuaWrite } from './write-value.js';

let libraryLogsRouted = false;

/** OPC UA client: subscriptions or polled reads, security modes and policies, certificates. */
export const opcuaDriver: ProtocolDriver<typeof opcuaDeviceSchema> = {
  protocols: ['opcua'],
  schema: opcuaDeviceSchema,
  endpoint: (device) => device.endpoint,
  tagAddress: (_device, tag) => tag.node ?? tag.path,
  canonicalAddress: (_device, tag) => tag.node ?? tag.path,
  // A birth goes out before the server is read: the configured type, else a number.
  tagKind: (_device, tag) => tag.type ?? 'number',
  prepareWrite: (_device, tag, requested, label) => prepareOpcuaWrite(tag, requested, label),
  settleMs: (device) => device.connectTimeoutMs,
  counters: [
    {
      name: 'notifications',
      help: 'OPC UA data-change notifications received from the server',
      read: (s) => s.notifications ?? 0,
    },
  ],
  async open({ log, stateDir }) {
    // node-opcua is big and slow to load: only agents with OPC UA devices pay for it.
    const [{ OpcuaSession }, { routeLibraryLogs }] = await Promise.all([
      import('./session.js'),
      import('./library-log.js'),
    ]);
    if (!libraryLogsRouted) routeLibraryLogs(log);
    libraryLogsRouted = true;
    return new OpcuaSession(defaultPkiDir(stateDir), log.child({ component: 'opcua' }));
  },
};
