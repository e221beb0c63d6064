import type { Logger } from '../../core/logger.js';
import { tagId, type DriverSession } from '../driver.js';
import { lineTransport, type ModbusDeviceConfig } from './config.js';
import { ModbusDeviceSource } from './device-source.js';
import { ModbusLine } from './line.js';
import { resolveTag } from './tag-spec.js';
import { describeTransport } from './transport.js';

/**
 * Modbus devices of one agent generation. Devices on one line (a TCP endpoint or a serial port)
 * share its connection; the first device's timing settings apply to the line.
 */
export class ModbusSession implements DriverSession<ModbusDeviceConfig> {
  private readonly lines = new Map<string, ModbusLine>();

  constructor(private readonly log: Logger) {}

  createSource(device: ModbusDeviceConfig): ModbusDeviceSource {
    const specs = device.tags.map((t) => {
      const spec = resolveTag(tagId(device, t), t, device.byteOrder);
      if (spec.note)
        this.log.info(
          { device: device.name, tag: t.name, note: spec.note },
          'classic address converted',
        );
      return spec;
    });
    const transport = lineTransport(device);
    const key = describeTransport(transport);
    let line = this.lines.get(key);
    if (!line) {
      line = new ModbusLine(
        {
          transport,
          timeoutMs: device.timeoutMs,
          maxInflight: device.maxInflight,
          interRequestDelayMs: device.interRequestDelayMs,
        },
        this.log,
      );
      this.lines.set(key, line);
    }
    return new ModbusDeviceSource(
      {
        name: device.name,
        unitId: device.unitId,
        maxGap: device.maxGap,
        maxRegistersPerRead: device.maxRegistersPerRead,
        maxBitsPerRead: device.maxBitsPerRead,
        retries: device.retries,
      },
      specs,
      line,
      this.log,
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.lines.values()].map((l) => l.close()));
    this.lines.clear();
  }
}
