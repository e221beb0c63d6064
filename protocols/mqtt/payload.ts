import type { Quality, TagValue } from '../types.js';

/** JSON body of a tag topic: `{"v": 42.1, "ts": 1732480000123, "q": "good"}`. */
export interface TagPayload {
  v: TagValue | null;
  /** Milliseconds since the epoch. */
  ts: number;
  q: Quality;
  /** Reason when `q` is not good. */
  r?: string;
  /** Replayed from a backlog rather than live. */
  hist?: boolean;
  /** The node's message sequence number (see `withSequence`). */
  seq?: number;
}

/** JSON body of an asset batch: `{"ts": …, "v": {"speed": 42.1}, "q": {"temp": "bad"}}`. */
export interface AssetPayload {
  ts: number;
  v: Record<string, TagValue | null>;
  /** Only for tags whose quality is not good. */
  q?: Record<string, Quality>;
  /** Reasons for the tags in `q`. */
  r?: Record<string, string>;
  hist?: boolean;
  seq?: number;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string; detail: string };

const QUALITIES = new Set<string>(['good', 'bad', 'uncertain']);

export function encodeTagPayload(p: TagPayload): string {
  let out = `{"v":${jsonValue(p.v)},"ts":${p.ts},"q":"${p.q}"`;
  if (p.r !== undefined) out += `,"r":${JSON.stringify(p.r)}`;
  if (p.hist) out += ',"hist":true';
  return out + '}';
}

function jsonValue(v: TagValue | null): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/**
 * Builds one asset-batch body by string concatenation: the high-rate path, where building an
 * object per sample and serialising it again would cost more than the MQTT publish itself.
 */
export class AssetBatchWriter {
  count = 0;
  private values = '';
  private qualities = '';
  private reasons = '';

  constructor(readonly ts: number) {}

  /** `key` is the tag name already JSON-quoted with its colon: `"speed":`. */
  add(key: string, v: TagValue | null, q: Quality, reason?: string): void {
    this.values += (this.count === 0 ? '' : ',') + key + jsonValue(v);
    this.count += 1;
    if (q === 'good') return;
    this.qualities += (this.qualities ? ',' : '') + key + '"' + q + '"';
    if (reason !== undefined)
      this.reasons += (this.reasons ? ',' : '') + key + JSON.stringify(reason);
  }

  encode(): string {
    let out = `{"ts":${this.ts},"v":{${this.values}}`;
    if (this.qualities) out += `,"q":{${this.qualities}}`;
    if (this.reasons) out += `,"r":{${this.reasons}}`;
    return out + '}';
  }
}

/** Marks an encoded JSON tag or asset body as replayed from a backlog. */
export function markHistorical(json: string): string {
  return json.slice(0, -1) + ',"hist":true}';
}

/**
 * Stamps an encoded JSON tag or asset body with the node's sequence number (its outbox record
 * id) as it goes out, and `hist` when replayed. The sequence lets a gateway count messages that
 * a broker acknowledged to the agent but never delivered: a broker's PUBACK is not the end of
 * the road (Mosquitto 2.0 loses a shared subscription's messages across a restart, issue 12).
 */
export function withSequence(json: string, seq: number, historical: boolean): string {
  return json.slice(0, -1) + (historical ? `,"seq":${seq},"hist":true}` : `,"seq":${seq}}`);
}

function isSequence(seq: unknown): seq is number {
  return typeof seq === 'number' && Number.isSafeInteger(seq) && seq > 0;
}

function fail<T>(reason: string, detail: string): Decoded<T> {
  return { ok: false, reason, detail };
}

function parseObject(buf: Buffer | string): Decoded<Record<string, unknown>> {
  let data: unknown;
  try {
    data = JSON.parse(typeof buf === 'string' ? buf : buf.toString('utf8'));
  } catch (err) {
    return fail('not-json', (err as Error).message);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data))
    return fail('not-object', 'payload is not a JSON object');
  return { ok: true, value: data as Record<string, unknown> };
}

function isValue(v: unknown): v is TagValue | null {
  return (
    v === null ||
    typeof v === 'boolean' ||
    typeof v === 'string' ||
    (typeof v === 'number' && Number.isFinite(v))
  );
}

function isTimestamp(ts: unknown): ts is number {
  // Milliseconds between 2000 and 2100: a seconds or microseconds timestamp is a sender bug.
  return (
    typeof ts === 'number' && Number.isInteger(ts) && ts > 946_684_800_000 && ts < 4_102_444_800_000
  );
}

/** Validates a tag payload. Never throws: a bad payload is a reason the caller counts. */
export function decodeTagPayload(buf: Buffer | string): Decoded<TagPayload> {
  const parsed = parseObject(buf);
  if (!parsed.ok) return parsed;
  const o = parsed.value;
  if (!isValue(o.v))
    return fail(
      'bad-value',
      `"v" must be a finite number, boolean, string or null, got ${JSON.stringify(o.v)}`,
    );
  if (!isTimestamp(o.ts))
    return fail('bad-timestamp', `"ts" must be epoch milliseconds, got ${JSON.stringify(o.ts)}`);
  const q = o.q ?? 'good';
  if (typeof q !== 'string' || !QUALITIES.has(q))
    return fail('bad-quality', `"q" must be good|bad|uncertain, got ${JSON.stringify(o.q)}`);
  if (o.v === null && q === 'good') return fail('bad-value', '"v" is null but quality is good');
  const value: TagPayload = { v: o.v, ts: o.ts, q: q as Quality };
  if (typeof o.r === 'string') value.r = o.r;
  if (o.hist === true) value.hist = true;
  if (o.seq !== undefined) {
    if (!isSequence(o.seq))
      return fail('bad-seq', `"seq" must be a positive integer, got ${JSON.stringify(o.seq)}`);
    value.seq = o.seq;
  }
  return { ok: true, value };
}

export function decodeAssetPayload(buf: Buffer | string): Decoded<AssetPayload> {
  const parsed = parseObject(buf);
  if (!parsed.ok) return parsed;
  const o = parsed.value;
  if (!isTimestamp(o.ts))
    return fail('bad-timestamp', `"ts" must be epoch milliseconds, got ${JSON.stringify(o.ts)}`);
  if (o.v === null || typeof o.v !== 'object' || Array.isArray(o.v))
    return fail('bad-value', '"v" must be an object of tag: value');
  for (const [tag, v] of Object.entries(o.v)) {
    if (!isValue(v))
      return fail('bad-value', `"v.${tag}" must be a finite number, boolean, string or null`);
  }
  const value: AssetPayload = { ts: o.ts, v: o.v as Record<string, TagValue | null> };
  if (o.q !== undefined) {
    if (o.q === null || typeof o.q !== 'object' || Array.isArray(o.q))
      return fail('bad-quality', '"q" must be an object of tag: quality');
    for (const [tag, q] of Object.entries(o.q)) {
      if (typeof q !== 'string' || !QUALITIES.has(q))
        return fail('bad-quality', `"q.${tag}" must be good|bad|uncertain`);
    }
    value.q = o.q as Record<string, Quality>;
  }
  if (o.r !== null && typeof o.r === 'object' && !Array.isArray(o.r)) {
    const reasons = Object.entries(o.r).filter(([, r]) => typeof r === 'string');
    if (reasons.length > 0) value.r = Object.fromEntries(reasons) as Record<string, string>;
  }
  if (o.hist === true) value.hist = true;
  if (o.seq !== undefined) {
    if (!isSequence(o.seq))
      return fail('bad-seq', `"seq" must be a positive integer, got ${JSON.stringify(o.seq)}`);
    value.seq = o.seq;
  }
  return { ok: true, value };
}

/**
 * Retained on `factorylm/<site>/_nodes/<node>/tags`: which tag topics a node publishes. Gateways
 * use it to tag each point with the node that produced it (the tag topic itself names none).
 */
export interface TagManifest {
  node: string;
  ts: number;
  /**
   * The first sequence number of this agent run. Sequence numbers continue across restarts while
   * the outbox holds a backlog and start again otherwise; a new `seqStart` tells the gateway so.
   */
  seqStart?: number;
  /** `address`: where the tag lives in the device (Modbus address, OPC UA node id or path). */
  tags: { topic: string; device: string; unit?: string; writable: boolean; address?: string }[];
}

export function decodeTagManifest(buf: Buffer | string): Decoded<TagManifest> {
  const parsed = parseObject(buf);
  if (!parsed.ok) return parsed;
  const o = parsed.value;
  if (typeof o.node !== 'string' || !Array.isArray(o.tags))
    return fail('bad-manifest', 'manifest needs "node" and "tags"');
  const tags: TagManifest['tags'] = [];
  for (const t of o.tags as unknown[]) {
    const entry = t as Record<string, unknown> | null;
    if (!entry || typeof entry.topic !== 'string')
      return fail('bad-manifest', 'every manifest tag needs a "topic"');
    tags.push({
      topic: entry.topic,
      device: typeof entry.device === 'string' ? entry.device : '',
      ...(typeof entry.unit === 'string' ? { unit: entry.unit } : {}),
      writable: entry.writable === true,
      ...(typeof entry.address === 'string' ? { address: entry.address } : {}),
    });
  }
  const value: TagManifest = { node: o.node, ts: typeof o.ts === 'number' ? o.ts : 0, tags };
  if (isSequence(o.seqStart)) value.seqStart = o.seqStart;
  return { ok: true, value };
}
