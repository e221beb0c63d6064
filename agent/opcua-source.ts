import type { Logger } from '../core/logger.js';
import { OpcuaDeviceSource, type OpcuaTagSpec } from '../protocols/opcua/device-source.js';
import { parseNodeRef } from '../protocols/opcua/node-ref.js';
import { applicationIdentity } from '../protocols/opcua/pki.js';

export { routeLibraryLogs } from '../protocols/opcua/library-log.js';
import type { OpcuaDeviceConfig } from './config.js';
import { OPCUA_APPLICATION_NAME } from './opcua-config.js';

/** A configured OPC UA device as a source; tag ids are `<asset>/<name>` like Modbus ones. */
export function createOpcuaSource(
  device: OpcuaDeviceConfig,
  defaultPkiDir: string,
  log: Logger,
): OpcuaDeviceSource {
  const tags: OpcuaTagSpec[] = device.tags.map((t) => ({
    id: `${t.asset ?? device.asset}/${t.name}`,
    ref: parseNodeRef(t),
    ...(t.type ? { valueType: t.type } : {}),
    mode: t.mode ?? device.mode,
    publishingIntervalMs: t.publishingIntervalMs ?? device.publishingIntervalMs,
    samplingIntervalMs: t.samplingIntervalMs ?? device.samplingIntervalMs,
    queueSize: t.queueSize ?? device.queueSize,
    ...(t.filter ? { deadband: { type: t.filter.deadband, value: t.filter.value } } : {}),
  }));
  return new OpcuaDeviceSource(
    {
      connection: {
        name: device.name,
        endpoint: device.endpoint,
        securityMode: device.securityMode,
        securityPolicy: device.securityPolicy,
        identity: device.identity,
        application: applicationIdentity(device.pkiDir ?? defaultPkiDir, OPCUA_APPLICATION_NAME),
        acceptUnknownServerCertificate: device.acceptUnknownServerCertificate,
        sessionTimeoutMs: device.sessionTimeoutMs,
        connectTimeoutMs: device.connectTimeoutMs,
        // Capped low: a restarted server gets its data flowing again within seconds, and a
        // refused connect costs the server next to nothing.
        backoff: { initialMs: 250, maxMs: 3_000 },
      },
      keepAliveMs: device.keepAliveMs,
    },
    tags,
    log,
  );
}
