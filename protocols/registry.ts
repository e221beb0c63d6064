import type { z } from 'zod';
import type { DriverContext, DriverCounter, DriverSession, ProtocolDriver } from './driver.js';
import type { TagSource } from './types.js';
import { modbusDriver } from './modbus/driver.js';
import { opcuaDriver } from './opcua/driver.js';

/** Every protocol the agent speaks. Adding one: its folder with a driver.ts, and a line here. */
export const drivers = [modbusDriver, opcuaDriver] as const;

type Drivers = typeof drivers;
type SchemasOf<T extends readonly unknown[]> = {
  -readonly [K in keyof T]: T[K] extends ProtocolDriver<infer S> ? S : never;
};

/** Device schemas in registry order, for the agent config's union on `protocol`. */
export const deviceSchemas = drivers.map((d) => d.schema) as unknown as SchemasOf<Drivers>;

/** A configured device of any protocol, as parsed. */
export type DeviceConfig = z.output<Drivers[number]['schema']>;

/** Every `protocol` value a device may have. */
export const PROTOCOLS: readonly string[] = drivers.flatMap((d) => d.protocols);

/** Every driver's own device counters, for the agent's metrics. */
export const DRIVER_COUNTERS: readonly DriverCounter[] = drivers.flatMap((d) => d.counters ?? []);

/** The driver of a configured device; the config schema admits no device without one. */
export function driverFor<D extends DeviceConfig>(device: D): ProtocolDriver<z.ZodType<D>> {
  const driver = drivers.find((d) => d.protocols.includes(device.protocol));
  if (!driver) throw new Error(`no driver for protocol "${device.protocol}"`);
  // The union is discriminated by `protocol`, so this is the driver whose schema parsed `device`.
  return driver as unknown as ProtocolDriver<z.ZodType<D>>;
}

/** Sources for one generation of devices, and what they share. */
export interface DeviceSources {
  /** In the order of the devices given. */
  sources: TagSource[];
  /** Closes every source, then what they shared (Modbus lines). */
  close(): Promise<void>;
}

/** Opens each protocol's session once and builds every device's source with it. */
export async function openSources(
  devices: readonly DeviceConfig[],
  context: DriverContext,
): Promise<DeviceSources> {
  const sessions = new Map<ProtocolDriver, DriverSession<DeviceConfig>>();
  const sources: TagSource[] = [];
  for (const device of devices) {
    const driver = driverFor(device) as ProtocolDriver;
    let session = sessions.get(driver);
    if (!session) {
      session = (await driver.open(context)) as DriverSession<DeviceConfig>;
      sessions.set(driver, session);
    }
    sources.push(session.createSource(device));
  }
  return {
    sources,
    async close() {
      await Promise.all(sources.map((s) => s.close()));
      await Promise.all([...sessions.values()].map((s) => s.close()));
    },
  };
}
