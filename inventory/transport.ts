import { gunzipSync, gzipSync } from 'node:zlib';
import { errorMessage } from '../core/errors.js';
import { reportSchema, type InventoryReport } from './report.js';

/**
 * The inventory travels as JSON, gzip-compressed when it is larger than this. Consumers tell the
 * two apart by the first bytes: gzip always starts 1f 8b, a JSON object always with `{`. That
 * works on MQTT 3.1.1 too (the embedded broker), where there is no content-type property; on
 * MQTT 5 the publisher also sets `contentType` to the value of `contentType()`.
 */
export const COMPRESS_ABOVE_BYTES = 64 * 1024;

/** A report, however compressed, larger than this once inflated is refused (a zip bomb). */
export const MAX_REPORT_BYTES = 256 * 1024 * 1024;

export function encodeReport(report: InventoryReport): Buffer {
  const json = Buffer.from(JSON.stringify(report));
  return json.length > COMPRESS_ABOVE_BYTES ? gzipSync(json, { level: 6 }) : json;
}

export function isGzip(payload: Buffer): boolean {
  return payload.length >= 2 && payload[0] === 0x1f && payload[1] === 0x8b;
}

/** The MQTT 5 content type of an encoded payload. */
export function contentType(payload: Buffer): string {
  return isGzip(payload) ? 'application/gzip' : 'application/json';
}

export type Decoded =
  { ok: true; value: InventoryReport } | { ok: false; reason: string; detail: string };

/** Inflates when gzip, parses and validates against the report schema. */
export function decodeReport(payload: Buffer): Decoded {
  let text: string;
  try {
    text = (
      isGzip(payload) ? gunzipSync(payload, { maxOutputLength: MAX_REPORT_BYTES }) : payload
    ).toString('utf8');
  } catch (err) {
    return { ok: false, reason: 'bad-gzip', detail: errorMessage(err) };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: 'not-json', detail: errorMessage(err) };
  }
  const parsed = reportSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return {
      ok: false,
      reason: 'bad-inventory',
      detail: `${issue.path.join('.') || '(report)'}: ${issue.message}`,
    };
  }
  return { ok: true, value: parsed.data };
}
