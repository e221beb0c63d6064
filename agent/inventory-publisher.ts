import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { packageRoot } from '../core/package-info.js';
import type { InventoryReport } from '../inventory/report.js';
import { defaultCacheFile } from '../inventory/cache-file.js';
import type { ScanOptions } from '../inventory/scan.js';
import {
  contentType,
  decodeReport,
  encodeReport,
  MAX_REPORT_BYTES,
} from '../inventory/transport.js';
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

/** Nice value of the scan process: the PLC polls come first. */
const SCAN_NICENESS = 10;

/**
 * Runs the scan in a process of its own (inventory/scan-process.ts, from dist/): a large tree
 * takes hundreds of MB that V8 would keep in the agent long after, and a separate process can
 * run at a lower priority. Killed when `signal` aborts.
 */
export function scanInChild(options: ScanOptions, signal: AbortSignal): Promise<InventoryReport> {
  const entry = join(packageRoot(), 'dist/inventory/scan-process.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, JSON.stringify(options)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      signal,
    });
    if (child.pid !== undefined) setPriority(child.pid, SCAN_NICENESS);
    const out: Buffer[] = [];
    let size = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REPORT_BYTES) child.kill();
      else out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code, sig) => {
      if (code !== 0) {
        const last = stderr.trim().split('\n').filter(Boolean).pop() ?? '';
        return reject(new Error(`scan process ended with ${sig ?? `exit code ${code}`}: ${last}`));
      }
      const decoded = decodeReport(Buffer.concat(out));
      if (decoded.ok) resolve(decoded.value);
      else reject(new Error(`scan process printed no valid report: ${decoded.detail}`));
    });
  });
}

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

  /** Kills a scan in progress; a report not yet published is dropped. */
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
      const report = await scanInChild(this.options, this.abort.signal);
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
