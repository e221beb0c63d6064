import { tagId, type ProtocolDriver } from '../driver.js';
import { lineTransport, MODBUS_PROTOCOLS, modbusDeviceSchema } from './config.js';
import { specAddress } from './ranges.js';
import { resolveTag } from './tag-spec.js';
import { describeTransport } from './transport.js';
import { prepareModbusWrite } from './write-value.js';

/** Modbus TCP, RTU and RTU over TCP. */
export const modbusDriver: ProtocolDriver<typeof modbusDeviceSchema> = {
  protocols: MODBUS_PROTOCOLS,
  schema: modbusDeviceSchema,
  endpoint: (device) => `${describeTransport(lineTransport(device))} unit ${device.unitId}`,
  tagAddress: (_device, tag) => String(tag.address),
  canonicalAddress: (device, tag) =>
    specAddress(resolveTag(tagId(device, tag), tag, device.byteOrder)),
  tagKind(device, tag) {
    const { type } = resolveTag(tagId(device, tag), tag, device.byteOrder).format;
    return type === 'bool' ? 'boolean' : type === 'string' ? 'string' : 'number';
  },
  prepareWrite: prepareModbusWrite,
  counters: [
    {
      name: 'timeouts',
      help: 'Modbus requests that got no answer in time',
      read: (s) => s.timeouts ?? 0,
    },
  ],
  checkDevices(devices, report) {
    // Devices on one line share its connection: one serial setting, distinct unit ids.
    const lines = new Map<string, { index: number; serial: string; unitIds: Set<number> }>();
    for (const { index, device } of devices) {
      const line = describeTransport(lineTransport(device));
      const serial = JSON.stringify(device.serial ?? null);
      const shared = lines.get(line);
      if (!shared) {
        lines.set(line, { index, serial, unitIds: new Set([device.unitId]) });
        continue;
      }
      if (shared.serial !== serial)
        report(
          index,
          ['serial'],
          `devices on one serial line need the same settings as devices[${shared.index}]`,
        );
      if (shared.unitIds.has(device.unitId))
        report(
          index,
          ['unitId'],
          `unit id ${device.unitId} is already used on ${line} by devices[${shared.index}] or another device`,
        );
      shared.unitIds.add(device.unitId);
    }
  },
  async open({ log }) {
    const { ModbusSession } = await import('./session.js');
    return new ModbusSession(log.child({ component: 'modbus' }));
  },
};
