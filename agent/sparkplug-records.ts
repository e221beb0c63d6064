import type { QueueRecord } from '../core/durable-queue.js';
import { NAMESPACE, parseSparkplugTopic } from '../protocols/mqtt/sparkplug-topic.js';
import type { Quality, TagValue } from '../protocols/types.js';
import type { SparkplugSample, SparkplugSession } from './sparkplug-session.js';

/**
 * How Sparkplug samples wait in the outbox. DDATA cannot be encoded when a sample is accepted:
 * its `seq` is the position in the session's stream at the moment it is sent, and a replayed
 * sample must carry is_historical. So the outbox keeps the DDATA topic and the samples as compact
 * JSON (`[[metric, value, quality, ts], …]`), and the protobuf is built on the way out.
 */
export type StoredSample = [metric: string, value: TagValue | null, quality: Quality, ts: number];

export function encodeSamples(samples: StoredSample[]): string {
  return JSON.stringify(samples);
}

const QUALITIES = new Set<string>(['good', 'bad', 'uncertain']);

function isStoredSample(s: unknown): s is StoredSample {
  if (!Array.isArray(s) || s.length !== 4) return false;
  const [metric, value, quality, ts] = s as unknown[];
  return (
    typeof metric === 'string' &&
    (value === null || ['number', 'boolean', 'string'].includes(typeof value)) &&
    typeof quality === 'string' &&
    QUALITIES.has(quality) &&
    typeof ts === 'number'
  );
}

/** The samples of a stored record; throws naming what is wrong (a record from another version). */
export function decodeSamples(text: string): SparkplugSample[] {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || !parsed.every(isStoredSample))
    throw new Error('stored Sparkplug record is not a list of [metric, value, quality, ts]');
  return parsed.map(([name, value, quality, ts]) => ({ name, value, quality, ts }));
}

/**
 * The bytes to send for an outbox record. Records on Sparkplug topics become DDATA of the session's
 * current birth; any other record (accepted before the output was switched to Sparkplug) goes out
 * as it was stored.
 */
export function finalizeSparkplug(
  session: SparkplugSession,
  record: QueueRecord,
  historical: boolean,
): string | Buffer {
  if (!record.topic.startsWith(`${NAMESPACE}/`)) return record.payload;
  const topic = parseSparkplugTopic(record.topic);
  if (!topic || topic.verb !== 'DDATA' || !('device' in topic))
    throw new Error(`outbox record on ${record.topic} is not DDATA`);
  // Checked before data(), which takes a seq: a record that is not sent must leave no gap.
  if (session.ddataTopic(topic.device) !== record.topic)
    throw new Error(`record on ${record.topic} belongs to another edge node or group`);
  const message = session.data(topic.device, decodeSamples(String(record.payload)), historical);
  if (!message)
    throw new Error('no Sparkplug birth is current; the outbox sends only after the birth');
  return message.payload;
}
