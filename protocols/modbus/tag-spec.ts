import { AddressError, AREAS, defaultDataType, formatAddress, parseTagAddress } from './address.js';
import { parseDataType, type ByteOrder, type ValueFormat } from './codec.js';
import type { ModbusTagSpec } from './device-source.js';

export interface TagFields {
  address: string | number;
  /** Type named beside the address; must agree with one named inside it. */
  type?: string;
  byteOrder?: ByteOrder;
}

/**
 * Resolves a configured tag into what the driver reads: address, bit, type and byte order,
 * taking the device's byte order when the tag names none. Throws AddressError naming the conflict.
 */
export function resolveTag(
  id: string,
  fields: TagFields,
  deviceOrder: ByteOrder,
): ModbusTagSpec & { note?: string } {
  const address = parseTagAddress(fields.address);
  let named: ReturnType<typeof parseDataType> | undefined;
  try {
    named = fields.type === undefined ? undefined : parseDataType(fields.type);
  } catch (err) {
    throw new AddressError((err as Error).message, 'type');
  }
  if (named && address.type && (named.type !== address.type || named.length !== address.length)) {
    throw new AddressError(
      `type ${fields.type} disagrees with the type in address "${fields.address}"`,
      'type',
    );
  }
  if (fields.byteOrder && address.order && fields.byteOrder !== address.order) {
    throw new AddressError(
      `byteOrder ${fields.byteOrder} disagrees with the order in address "${fields.address}"`,
      'byteOrder',
    );
  }
  const type =
    address.type ??
    named?.type ??
    (address.bit !== undefined ? 'bool' : defaultDataType(address.area));
  const length = address.length ?? named?.length;
  if (AREAS[address.area].bits && type !== 'bool') {
    throw new AddressError(
      `a ${AREAS[address.area].label} holds one bit; type must be bool, not ${fields.type ?? type}`,
      'type',
    );
  }
  if (address.bit !== undefined && type !== 'bool') {
    throw new AddressError(
      `${formatAddress(address)} is one bit; type must be bool, not ${type}`,
      'type',
    );
  }
  const format: ValueFormat = { type, order: address.order ?? fields.byteOrder ?? deviceOrder };
  if (length !== undefined) format.length = length;
  if (address.bit !== undefined) format.bit = address.bit;
  const spec: ModbusTagSpec & { note?: string } = {
    id,
    address: {
      area: address.area,
      offset: address.offset,
      ...(address.bit !== undefined ? { bit: address.bit } : {}),
    },
    format,
  };
  if (address.note) spec.note = address.note;
  return spec;
}
