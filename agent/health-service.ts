import { errorMessage } from '../core/errors.js';
import { startHealthServer, type HealthServer } from '../core/http-server.js';
import type { Logger } from '../core/logger.js';
import { ResourceWatchdog, type ResourceReport } from '../core/watchdog.js';
import type { AgentConfig } from './config.js';
import type { AgentHealth } from './health.js';
import type { AgentMetrics, AgentMetricsSnapshot } from './metrics.js';

export interface HealthSources {
  health(): AgentHealth;
  metrics(): AgentMetricsSnapshot;
  /** Publishes health retained on `_nodes/<node>/health` when the broker is connected. */
  publish(health: AgentHealth): void;
}

/**
 * The agent's health surface: resource watchdog, `GET /health` and `GET /metrics` (Prometheus),
 * and health published every `health.publishIntervalMs`.
 */
export class HealthService {
  private watchdog?: ResourceWatchdog;
  private metrics?: AgentMetrics;
  private server?: HealthServer;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly config: AgentConfig['health'],
    private readonly log: Logger,
  ) {}

  /** Never throws: polling and store-and-forward matter more than the endpoint. */
  async start(sources: HealthSources): Promise<{ error?: string }> {
    const { config } = this;
    this.watchdog = new ResourceWatchdog(
      { maxEventLoopLagMs: config.maxEventLoopLagMs, maxRssMb: config.maxRssMb },
      this.log.child({ component: 'watchdog' }),
    );
    this.watchdog.start();
    if (config.publishIntervalMs > 0)
      this.timer = setInterval(() => sources.publish(sources.health()), config.publishIntervalMs);
    if (config.port === 0) return {};
    // prom-client costs 13 MiB: loaded only when there is an endpoint to scrape.
    const { createAgentMetrics } = await import('./metrics.js');
    this.metrics = createAgentMetrics(() => sources.metrics());
    const registry = this.metrics.registry;
    try {
      this.server = await startHealthServer(
        { host: config.host, port: config.port, token: config.token, tls: config.tls },
        {
          health: () => sources.health(),
          metrics: () => registry.metrics(),
          metricsContentType: registry.contentType,
        },
        this.log.child({ component: 'health' }),
      );
      return {};
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'health endpoint not started');
      return { error: errorMessage(err) };
    }
  }

  get url(): string | undefined {
    return this.server?.url;
  }

  resources(): ResourceReport | undefined {
    return this.watchdog?.report();
  }

  observePoll(device: string, ms: number): void {
    this.metrics?.observePoll(device, ms);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.watchdog?.stop();
    await this.server?.close();
  }
}
