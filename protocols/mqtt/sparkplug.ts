/**
 * Sparkplug B 3.0 building blocks: topics `spBv1.0/<group>/<verb>/<edge node>[/<device>]` and
 * protobuf payloads. Encoding and decoding are the sparkplug-payload package's (Eclipse Tahu);
 * this module turns what it decodes into plain values and never throws on a bad payload.
 */
import sparkplugPayload from 'sparkplug-payload';
import proto from 'sparkplug-payload/lib/sparkplugPayloadProto.js';
import type { TypeStr, UPayload } from 'sparkplug-payload/lib/sparkplugbpayload.js';
import { errorMessage } from '../../core/errors.js';
import type { Decoded } from './payload.js';
import { NAMESPACE } from './sparkplug-topic.js';

// The topic scheme is its own module so publishers that never encode a payload skip the codec.
export * from './sparkplug-topic.js';

export const BDSEQ_METRIC = 'bdSeq';
export const REBIRTH_METRIC = 'Node Control/Rebirth';
/** Metric property carrying a quality code; Sparkplug says it is absent when quality is GOOD. */
export const QUALITY_PROPERTY = 'Quality';
/** The only quality codes Sparkplug 3.0 allows, sent as an Int32 property value. */
export const QUALITY_CODE = { bad: 0, good: 192, stale: 500 } as const;

export type DataType = TypeStr;

function loadCodec() {
  const c = sparkplugPayload.get(NAMESPACE);
  if (!c) throw new Error(`sparkplug-payload does not support ${NAMESPACE}`);
  return c;
}

const codec = loadCodec();
const RawPayload = proto.org.eclipse.tahu.protobuf.Payload;
type RawPayload = InstanceType<typeof RawPayload>;
type RawMetric = InstanceType<typeof RawPayload.Metric>;
type RawPropertyValue = InstanceType<typeof RawPayload.PropertyValue>;

/**
 * Tahu reads these through an Int32Array, which turns an intValue that is not there into 0; any
 * other datatype whose field is not set reads as null.
 */
const INT32_TYPES = new Set<string>(['Int8', 'Int16', 'Int32']);

export type EncodableValue = number | boolean | string | null;

export interface Metric {
  name?: string;
  alias?: number;
  /** Milliseconds since the epoch, UTC. */
  timestamp?: number;
  type: DataType;
  /** null is sent as is_null. */
  value: EncodableValue;
  isHistorical?: boolean;
  properties?: Record<string, { type: DataType; value: EncodableValue }>;
}

export interface Payload {
  timestamp: number;
  /** Absent on NDEATH, NCMD and DCMD. */
  seq?: number;
  metrics: Metric[];
}

export function encodePayload(payload: Payload): Buffer {
  const bytes = codec.encodePayload(payload);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A decoded scalar; 64-bit integers outside ±2^53 stay exact as bigint. */
export type MetricValue = number | bigint | boolean | string | null;

export interface DecodedMetric {
  name?: string;
  alias?: number;
  timestamp?: number;
  /** Absent when the sender left it out, as Sparkplug asks of DATA and CMD messages. */
  type?: DataType;
  /** null for is_null and for a metric that carries no value. */
  value: MetricValue;
  isHistorical: boolean;
  properties: Record<string, { type: DataType; value: MetricValue }>;
}

export interface DecodedPayload {
  timestamp?: number;
  seq?: number;
  metrics: DecodedMetric[];
}

/**
 * Decodes any Sparkplug B payload whose metric and property values are scalars. Never throws:
 * protobuf that does not parse, or DataSet/Template/Bytes values, come back as a reason.
 */
export function decodePayload(buf: Uint8Array): Decoded<DecodedPayload> {
  let decoded: UPayload;
  try {
    decoded = codec.decodePayload(buf);
  } catch (err) {
    return fail('not-sparkplug', `not a Sparkplug B protobuf payload: ${errorMessage(err)}`);
  }
  let raw: RawPayload | undefined;
  const metrics: DecodedMetric[] = [];
  for (const [i, m] of (decoded.metrics ?? []).entries()) {
    const type = m.type as DataType | undefined;
    const alias = toNumber(m.alias);
    const label = `metric ${m.name ?? (alias !== undefined ? `alias ${alias}` : `#${i}`)}`;
    let value: MetricValue | undefined;
    if (type === undefined) {
      // The package reads a value only through its datatype; without one, take the set field.
      raw ??= RawPayload.decode(buf);
      value = untypedValue(raw.metrics[i] as RawMetric | undefined);
    } else {
      value = scalar(m.value);
      if (value === 0 && INT32_TYPES.has(type)) {
        raw ??= RawPayload.decode(buf);
        if ((raw.metrics[i] as RawMetric | undefined)?.value !== 'intValue') value = null;
      }
    }
    if (value === undefined)
      return fail('unsupported-value', `${label} of type ${type ?? 'unknown'} is not a scalar`);
    const properties: DecodedMetric['properties'] = {};
    for (const [key, p] of Object.entries(m.properties ?? {})) {
      let pv = scalar(p.value);
      if (pv === 0 && INT32_TYPES.has(p.type)) {
        raw ??= RawPayload.decode(buf);
        const set = raw.metrics[i]?.properties;
        const at = set?.keys?.lastIndexOf(key) ?? -1;
        if ((set?.values?.[at] as RawPropertyValue | undefined)?.value !== 'intValue') pv = null;
      }
      if (pv === undefined)
        return fail('unsupported-value', `${label} property ${key} is not a scalar`);
      properties[key] = { type: p.type, value: pv };
    }
    const timestamp = toNumber(m.timestamp);
    metrics.push({
      ...(typeof m.name === 'string' ? { name: m.name } : {}),
      ...(alias !== undefined ? { alias } : {}),
      ...(timestamp !== undefined ? { timestamp } : {}),
      ...(type !== undefined ? { type } : {}),
      value,
      isHistorical: m.isHistorical === true,
      properties,
    });
  }
  const timestamp = toNumber(decoded.timestamp);
  const seq = toNumber(decoded.seq);
  return {
    ok: true,
    value: {
      ...(timestamp !== undefined ? { timestamp } : {}),
      ...(seq !== undefined ? { seq } : {}),
      metrics,
    },
  };
}

function fail<T>(reason: string, detail: string): Decoded<T> {
  return { ok: false, reason, detail };
}

interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
}

function isLong(v: unknown): v is LongLike {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as LongLike).low === 'number' &&
    typeof (v as LongLike).high === 'number' &&
    typeof (v as LongLike).unsigned === 'boolean'
  );
}

function fromLong(v: LongLike): number | bigint {
  const bits = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  const n = v.unsigned ? bits : BigInt.asIntN(64, bits);
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(n)
    : n;
}

function scalar(v: unknown): MetricValue | undefined {
  if (v === null || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string')
    return v;
  if (isLong(v)) return fromLong(v);
  return undefined;
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  return isLong(v) ? Number(fromLong(v)) : undefined;
}

function untypedValue(m: RawMetric | undefined): MetricValue | undefined {
  if (!m || m.isNull) return null;
  switch (m.value) {
    case undefined:
      return null;
    case 'intValue':
    case 'floatValue':
    case 'doubleValue':
    case 'booleanValue':
    case 'stringValue':
      return m[m.value] ?? null;
    case 'longValue':
      return scalar(m.longValue) ?? null;
    default:
      return undefined;
  }
}
