import type { z } from 'zod';
import type { Logger } from '../core/logger.js';
import type { SourceStatus, TagSource, TagValue } from './types.js';

/**
 * What a protocol gives the agent: a device schema, a way to build sources for configured
 * devices, and the little the agent must know about a tag without reading it. The agent looks a
 * driver up by the device's `protocol` (protocols/registry.ts) and knows nothing else about it.
 */
export interface ProtocolDriver<
  Schema extends z.ZodType<DeviceShape> = z.ZodType<DeviceShape>,
  Device extends DeviceShape = z.output<Schema>,
> {
  /** Values of a device's `protocol` this driver handles. */
  readonly protocols: readonly string[];
  /** The device config, discriminated by `protocol`; built from protocols/tag-fields.ts. */
  readonly schema: Schema;
  /** Where the device is, for logs and `--test` output: `tcp://10.0.0.5:502 unit 1`. */
  endpoint(device: Device): string;
  /** The tag's address as the config writes it: the tag manifest carries it to the gateway. */
  tagAddress(device: Device, tag: Device['tags'][number]): string | undefined;
  /** The same in the grammar's one canonical form (classic 40101 → hr:100), for `agent --test`. */
  canonicalAddress(device: Device, tag: Device['tags'][number]): string | undefined;
  /** The value type of a tag before it is read: a Sparkplug birth declares it. */
  tagKind(device: Device, tag: Device['tags'][number]): TagKind;
  /**
   * A write request's value for this tag: `value` in engineering units, within the tag's min and
   * max, and `raw` as the device takes it (scale and offset reversed, checked against the type
   * where the config knows it). Throws WriteRefused (tag-values.ts) naming what and why.
   */
  prepareWrite(
    device: Device,
    tag: Device['tags'][number],
    requested: unknown,
    label: string,
  ): { value: TagValue; raw: TagValue };
  /**
   * For drivers whose values arrive on their own (subscriptions): how long after the first read
   * every value may take to arrive, ms. `agent --test` reads until then.
   */
  settleMs?(device: Device): number;
  /** Per-device counters of this protocol that the agent exports beside the common ones. */
  readonly counters?: readonly DriverCounter[];
  /** Problems between devices of this protocol that no single device shows (a unit id used twice on one line). */
  checkDevices?(devices: readonly Numbered<Device>[], report: ReportIssue): void;
  /**
   * Loads the protocol's code and opens a session for one generation of devices (until stop or
   * reload). Loading happens here, not on import, so a node pays only for the protocols it uses
   * (node-opcua alone adds 80 MiB).
   */
  open(context: DriverContext): Promise<DriverSession<Device>>;
}

export type TagKind = 'number' | 'boolean' | 'string';

/** A counter of a device's status, exported as `factorylm_agent_device_<name>_total{device}`. */
export interface DriverCounter {
  name: string;
  help: string;
  read(status: SourceStatus): number;
}

/** What every device config has, whatever its protocol. */
export interface DeviceShape {
  name: string;
  protocol: string;
  asset: string;
  pollIntervalMs: number;
  publishMode?: 'tag' | 'asset';
  tags: readonly TagShape[];
}

/** protocols/tag-fields.ts, as parsed. */
export interface TagShape {
  name: string;
  asset?: string;
  scale: number;
  offset: number;
  unit?: string;
  deadband: number;
  deadbandPercent: number;
  minIntervalMs?: number;
  maxSilenceMs?: number;
  writable: boolean;
  min?: number;
  max?: number;
}

/** A device with its index in the config's `devices`, for issue paths. */
export interface Numbered<Device> {
  index: number;
  device: Device;
}

/** Adds a config problem at `devices[index].<path>`. */
export type ReportIssue = (index: number, path: (string | number)[], message: string) => void;

export interface DriverContext {
  /** The agent's logger; a driver logs under its own `component`. */
  log: Logger;
  /** Folder for the driver's own state (OPC UA certificates), beside the outbox. */
  stateDir: string;
}

export interface DriverSession<Device> {
  /** A source for one device; the session's sources may share connections (one Modbus line). */
  createSource(device: Device): TagSource;
  /** Closes what the sources shared, once every source is closed. */
  close(): Promise<void>;
}

/** A tag's id as every source and the agent know it: `<asset>/<name>`. */
export function tagId(device: { asset: string }, tag: { name: string; asset?: string }): string {
  return `${tag.asset ?? device.asset}/${tag.name}`;
}
