/** The contract between protocol drivers and whoever polls them. Drivers know nothing of MQTT. */

import type { SampleFrame } from './sample-frame.js';

export type Quality = 'good' | 'bad' | 'uncertain';

export type TagValue = number | boolean | string;

/** One tag's value as a driver read it (SampleFrame.readings() gives a frame's as objects): raw (before scale/offset), with its quality. */
export interface Reading {
  id: string;
  /** null when quality is bad and no value could be read. */
  value: TagValue | null;
  quality: Quality;
  /** Why the quality is not good: `timeout`, `disconnected: …`, `exception 2 (illegal data address)`. */
  reason?: string;
  /** Milliseconds since the epoch, when the response arrived. */
  ts: number;
  /**
   * When the value changed at the source, where the device says (OPC UA source timestamp);
   * published as the sample's time. Report by exception and heartbeats go by `ts`.
   */
  sourceTs?: number;
}

export interface SourceStatus {
  connected: boolean;
  /** Last error seen, cleared by the next good read. */
  lastError?: string;
  requests: number;
  errors: number;
  /** Round-trip of the last complete read cycle, ms. */
  latencyMs?: number;
  /** Stopped answering and is retried on a slower schedule (Modbus). */
  failing?: boolean;
  /** Requests that got no answer in time (Modbus). */
  timeouts?: number;
  /** Values merged away because the agent took them too slowly (OPC UA). */
  dropped?: number;
  /** Data-change notifications received from the server (OPC UA). */
  notifications?: number;
}

/** One read request of a poll, for drivers that plan their reads (Modbus). */
export interface PlannedRead {
  area: string;
  start: number;
  count: number;
  /** Tags the request serves. */
  tags: number;
}

/** A device the agent polls. One instance per device; `read()` is never called concurrently. */
export interface TagSource {
  readonly name: string;
  /** Its tags' ids in config order: a sample's tag index points here. */
  readonly tagIds: readonly string[];
  readonly status: SourceStatus;
  /** The read requests of one poll, where the driver plans them (for logs and `agent --test`). */
  readonly planned?: readonly PlannedRead[];
  /**
   * Reads every tag once (Modbus) or takes what arrived since the last call (OPC UA). Never
   * throws for device problems: those become bad samples. The frame is the source's own and
   * valid until the next read().
   */
  read(): Promise<SampleFrame>;
  /** Writes a raw value (already unscaled) to a tag. Throws with a clear reason when refused. */
  write(id: string, value: TagValue): Promise<void>;
  close(): Promise<void>;
}
