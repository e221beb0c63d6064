import { z } from 'zod';
import { errorMessage } from '../../core/errors.js';
import {
  assetField,
  deviceNameField,
  publishModeField,
  tagIdentityFields,
  tagPublishingFields,
} from '../tag-fields.js';
import { AddressError, AREAS } from './address.js';
import { BYTE_ORDERS, DATA_TYPE_NAMES, isDataTypeName, parseDataType } from './codec.js';
import { resolveTag } from './tag-spec.js';
import type { LineTransport } from './transport.js';

/** The config of a Modbus device (TCP, RTU on a serial line, RTU over TCP) and its tags. */

const byteOrder = z.enum(BYTE_ORDERS, { error: () => `must be one of ${BYTE_ORDERS.join(', ')}` });

const tagSchema = z
  .strictObject({
    ...tagIdentityFields,
    address: z
      .union([z.string(), z.int()])
      .describe(
        'Modbus address: coil:N, di:N, ir:N, hr:N (0-based), hr:N.bit, optionally :type:order (hr:100:float32:CDAB); or classic 1-based 40101',
      ),
    type: z
      .string()
      .superRefine((s, ctx) => {
        try {
          parseDataType(s);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: errorMessage(err) });
        }
      })
      .optional()
      .describe(
        `Data type: ${DATA_TYPE_NAMES}; default bool for coil/di and register bits, uint16 for registers`,
      ),
    byteOrder: byteOrder
      .optional()
      .describe(
        "ABCD (big-endian), DCBA, BADC (byte swap) or CDAB (word swap); default: the device's",
      ),
    ...tagPublishingFields,
  })
  .describe('One value read from the device');

export const MODBUS_PROTOCOLS = ['modbus-tcp', 'modbus-rtu', 'modbus-rtu-over-tcp'] as const;

const serialSchema = z
  .strictObject({
    path: z.string().min(1).describe('Serial device, e.g. /dev/ttyUSB0'),
    baudRate: z.int().positive().default(9600).describe('Bits per second'),
    parity: z.enum(['none', 'even', 'odd']).default('none'),
    dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
    stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
  })
  .describe('Serial line settings for modbus-rtu');

export const modbusDeviceSchema = z
  .strictObject({
    name: deviceNameField,
    protocol: z
      .enum(MODBUS_PROTOCOLS, {
        error: (iss) =>
          `unknown protocol ${JSON.stringify(iss.input)}; supported: ${MODBUS_PROTOCOLS.join(', ')}`,
      })
      .describe('modbus-tcp, modbus-rtu (serial) or modbus-rtu-over-tcp (serial gateway)'),
    host: z
      .string()
      .min(1)
      .optional()
      .describe('PLC or gateway host (modbus-tcp, modbus-rtu-over-tcp)'),
    port: z.int().min(1).max(65535).default(502).describe('TCP port'),
    serial: serialSchema.optional(),
    unitId: z
      .int()
      .min(0)
      .max(255)
      .default(1)
      .describe('Modbus unit id (slave id); devices on one line differ by it'),
    byteOrder: byteOrder.default('ABCD').describe('Default byte order of multi-byte values'),
    publishMode: publishModeField,
    asset: assetField,
    pollIntervalMs: z
      .int()
      .min(10, 'must be at least 10 ms')
      .default(1000)
      .describe('Poll interval, ms'),
    timeoutMs: z
      .int()
      .min(10, 'must be at least 10 ms')
      .default(1000)
      .describe('Response timeout per request, ms'),
    retries: z
      .int()
      .min(0)
      .max(5)
      .default(1)
      .describe('Extra attempts of a request that timed out'),
    interRequestDelayMs: z
      .int()
      .min(0)
      .max(10_000)
      .default(0)
      .describe('Pause between requests on the line, for slow devices, ms'),
    maxInflight: z
      .int()
      .min(1)
      .max(64)
      .default(1)
      .describe('Requests in flight per TCP connection, where the device allows (RTU: always 1)'),
    maxGap: z
      .int()
      .min(0)
      .max(124)
      .default(8)
      .describe('Unused registers a read may span to merge two requests'),
    maxRegistersPerRead: z
      .int()
      .min(1)
      .max(125)
      .default(125)
      .describe('Device limit on registers per read'),
    maxBitsPerRead: z
      .int()
      .min(1)
      .max(2000)
      .default(2000)
      .describe('Device limit on coils/inputs per read'),
    tags: z.array(tagSchema).min(1, 'a device needs at least one tag'),
  })
  .superRefine((device, ctx) => {
    if (device.protocol === 'modbus-rtu' && !device.serial) {
      ctx.addIssue({
        code: 'custom',
        path: ['serial'],
        message: 'modbus-rtu needs serial: { path: /dev/ttyUSB0, baudRate: 9600, … }',
      });
    }
    if (device.protocol !== 'modbus-rtu' && !device.host) {
      ctx.addIssue({
        code: 'custom',
        path: ['host'],
        message: `${device.protocol} needs host: the PLC's IP address or name`,
      });
    }
    device.tags.forEach((tag, i) => {
      let spec;
      try {
        spec = resolveTag(tag.name, tag, device.byteOrder);
      } catch (err) {
        // An unknown type name is already reported on the type field itself.
        if (
          err instanceof AddressError &&
          err.field === 'type' &&
          tag.type !== undefined &&
          !isDataTypeName(tag.type)
        )
          return;
        const field = err instanceof AddressError ? err.field : 'address';
        ctx.addIssue({ code: 'custom', path: ['tags', i, field], message: errorMessage(err) });
        return;
      }
      const area = AREAS[spec.address.area];
      if (tag.writable && !area.writable) {
        ctx.addIssue({
          code: 'custom',
          path: ['tags', i, 'writable'],
          message: `${tag.address} is a ${area.label}, which Modbus cannot write; use a coil or holding register`,
        });
      } else if (tag.writable && spec.address.bit !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['tags', i, 'writable'],
          message: `${tag.address} is one bit of a register; writing it would race the PLC (read-modify-write), so it cannot be writable`,
        });
      }
    });
  })
  .describe('A PLC this node polls');

export type ModbusDeviceConfig = z.output<typeof modbusDeviceSchema>;

/** The connection a device's requests travel on; devices with the same one share it. */
export function lineTransport(d: ModbusDeviceConfig): LineTransport {
  if (d.protocol === 'modbus-rtu') {
    const s = d.serial!;
    return {
      kind: 'rtu',
      path: s.path,
      baudRate: s.baudRate,
      parity: s.parity,
      dataBits: s.dataBits,
      stopBits: s.stopBits,
    };
  }
  return {
    kind: d.protocol === 'modbus-tcp' ? 'tcp' : 'rtu-over-tcp',
    host: d.host!,
    port: d.port,
  };
}
