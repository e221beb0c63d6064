import type { Logger } from '../../core/logger.js';
import { tagId, type DriverSession } from '../driver.js';
import { OPCUA_APPLICATION_NAME, type OpcuaDeviceConfig } from './config.js';
import { OpcuaDeviceSource, type OpcuaTagSpec } from './device-source.js';
import { parseNodeRef } from './node-ref.js';
import { applicationIdentity } from './pki.js';

/** OPC UA devices of one agent generation: each has a session of its own with its server. */
export class OpcuaSession implements DriverSession<OpcuaDeviceConfig> {
  constructor(
    /** Where the agent's certificate lives unless a device names its own pkiDir. */
    private readonly defaultPkiDir: string,
    private readonly log: Logger,
  ) {}

  createSource(device: OpcuaDeviceConfig): OpcuaDeviceSource {
    const tags: OpcuaTagSpec[] = device.tags.map((t) => ({
      id: tagId(device, t),
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
          application: applicationIdentity(
            device.pkiDir ?? this.defaultPkiDir,
            OPCUA_APPLICATION_NAME,
          ),
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
      this.log,
    );
  }

  /** Each source closes its own server session. */
  async close(): Promise<void> {}
}
