import { existsSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { InventoryReport } from '../inventory/report.js';
import { defaultCacheFile, scanNode, type ScanOptions } from '../inventory/scan.js';
import { contentType, encodeReport } from '../inventory/transport.js';
import { nodeTopic } from '../protocols/mqtt/topics.js';
import type { AgentConfig } from './config.js';

/** Topic of a node's retained inventory report (ARCHITECTURE.md). */
export function inventoryTopic(site: string, node: string): string {
  return nodeTopic(site, node, 'inventory');
}

/**
 * Publishes a report retained at QoS 1, so a gateway that starts later still gets the latest;
 * resolves with the bytes sent once the broker has acknowledged it.
 */
export async function publishInventory(
  client: MqttClient,
  report: InventoryReport,
  site: string,
): Promise<number> {
  const payload = encodeReport(report);
  await client.publishAsync(inventoryTopic(site, report.node.name), payload, {
    qos: 1,
    retain: true,
    ...(client.options.protocolVersion === 5
      ? { properties: { contentType: contentType(payload) } }
      : {}),
  });
  return payload.length;
}

/** Work the agent's scan does before handing the event loop back to the PLC polls, ms. */
const AGENT_SLICE_MS = 5;
/** One core hashes; the other stays for polling (a Raspberry Pi has four, a small PC two). */
const AGENT_HASH_WORKERS = 1;

/** What the agent's health says about its inventory. */
export interface InventoryStats {
  published: number;
  failed: number;
  /** Size of the last report sent, bytes (gzip when compressed). */
  lastBytes?: number;
  lastError?: string;
}

/** The scan options of an agent's `inventory:` section; roots that do not exist are skipped. */
export function agentScanOptions(config: AgentConfig): ScanOptions & { site: string } {
  const inv = config.inventory;
  return {
    roots: inv.roots.filter((r) => existsSync(r)),
    node: config.node,
    site: config.site,
    maxFileBytes: inv.maxFileMb * 1024 * 1024,
    ignore: inv.ignore,
    cacheFile: inv.cacheFile ?? defaultCacheFile(),
    sliceMs: AGENT_SLICE_MS,
    hashWorkers: AGENT_HASH_WORKERS,
    ...(inv.unitDirs ? { unitDirs: inv.unitDirs } : {}),
    ...(inv.dockerSocket ? { dockerSocket: inv.dockerSocket } : {}),
  };
}

/**
 * Scans at start and every `intervalHours`, publishing each report. One scan at a time; a scan
 * or publish that fails is logged and counted, and the next interval tries again.
 */
export class InventoryPublisher {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly abort = new AbortController();
  readonly stats: InventoryStats = { published: 0, failed: 0 };

  constructor(
    private readonly options: ScanOptions & { site: string; intervalHours: number },
    private readonly client: MqttClient,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.run();
    this.timer = setInterval(() => this.run(), this.options.intervalHours * 3600 * 1000);
    this.timer.unref();
  }

  /** Ends a scan in progress at its next slice; a report not yet published is dropped. */
  stop(): void {
    clearInterval(this.timer);
    this.abort.abort();
  }

  private run(): void {
    if (this.running) return;
    this.running = this.once().finally(() => (this.running = undefined));
  }

  private async once(): Promise<void> {
    try {
      if (this.options.roots.length === 0)
        this.log.warn('inventory.roots: none of them exists; publishing services and node only');
      const report = await scanNode({ ...this.options, signal: this.abort.signal });
      if (this.abort.signal.aborted) return;
      const bytes = await publishInventory(this.client, report, this.options.site);
      this.stats.published += 1;
      this.stats.lastBytes = bytes;
      this.log.info(
        {
          projects: report.projects.length,
          files: report.stats.files,
          hashed: report.stats.hashed,
          cached: report.stats.cached,
          durationMs: report.durationMs,
          bytes,
        },
        'inventory published',
      );
    } catch (err) {
      if (this.abort.signal.aborted) return;
      this.stats.failed += 1;
      this.stats.lastError = errorMessage(err);
      this.log.error({ err: errorMessage(err) }, 'inventory scan or publish failed');
    }
  }
}
