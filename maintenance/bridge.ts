import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import {
  AlarmEngine,
  AlarmStateStore,
  alarmLine,
  alarmStatePayload,
  alarmTopic,
  defaultAlarmStatePath,
  type AlarmEvent,
  type AlarmSample,
  type AlarmSnapshot,
  type AlarmStats,
  type AckResult,
  type ShelveInfo,
} from './alarms/index.js';
import {
  createAtlasDispatcher,
  createWebhookDispatcher,
  type DispatcherStats,
  type WorkOrderDispatcher,
  type WorkOrderInfo,
} from './cmms/index.js';
import type { OrderStore } from './cmms/order-store.js';
import type { MaintenanceConfig } from './config.js';
import {
  createLlmClient,
  DiagnosisService,
  type DiagnosisContext,
  type DiagnosisResult,
  type DiagnosisStats,
} from './llm/index.js';
import { RecentSamples } from './recent-samples.js';

export interface BridgeDeps {
  /** Gateway name: default file names of the alarm state and the outboxes. */
  name: string;
  log: Logger;
  /** Writes InfluxDB line protocol through the gateway's sink (the `alarms` measurement). */
  writeLine?: (line: string) => void;
  /** Publishes a retained MQTT message (the alarm state on `…/_alarms/<asset>/<rule>`). */
  publish?: (topic: string, payload: string) => void;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
}

/** A work order as the operator surface shows it beside its alarm. */
export interface AlarmWorkOrder {
  id: number;
  customId?: string;
  url: string;
  open: boolean;
}

export interface BridgeStats {
  /** True in the one gateway that runs the bridge (the lease holder). */
  active: boolean;
  alarms: AlarmStats;
  llm?: DiagnosisStats;
  cmms?: DispatcherStats;
  webhook?: DispatcherStats;
  /** New faults sent to the CMMS (a re-occurrence of an open one is not a new fault). */
  faults: number;
  /** Orders created with "diagnosis pending" because the LLM took longer than llm.waitMs. */
  diagnosisPending: number;
  /** Diagnoses added as a comment after their order was created. */
  diagnosisLate: number;
  /** Diagnoses from the LLM, and the template used instead. */
  diagnosed: { llm: number; template: number };
  recentRefused: number;
}

/** Recent samples kept for the diagnosis: points per tag over llm.historyMinutes, and limits. */
const HISTORY_POINTS_PER_TAG = 60;
const HISTORY_MAX_ASSETS = 10_000;
const HISTORY_MAX_TAGS = 128;
/** 2M points: about 100 MB at most, reached only by 33,000 tags with a full window. */
const HISTORY_MAX_POINTS = 2_000_000;

/**
 * The maintenance bridge: alarm rules on live samples → a diagnosis from the maintenance LLM →
 * one work order per fault in Atlas CMMS (and the same actions to a webhook). It runs in every
 * gateway that has a `maintenance:` section, but only the lease holder evaluates samples
 * (`setActive`); every instance keeps delivering the CMMS actions its outbox holds.
 *
 * The LLM never holds up a work order: the order waits at most `llm.waitMs` for the diagnosis,
 * then goes out with "diagnosis pending" and the diagnosis follows as a comment.
 */
export class MaintenanceBridge {
  private readonly engine: AlarmEngine;
  private readonly recent: RecentSamples;
  private readonly log: Logger;
  private readonly now: () => number;
  private tickTimer?: NodeJS.Timeout;
  private active = false;
  /** The last figures, kept once stopped. */
  private stopped?: BridgeStats;
  /** Set when stop() begins: samples and statuses arriving while the gateway closes are ignored. */
  private closing = false;
  private readonly orders = new Map<string, AlarmWorkOrder>();
  private readonly counters = {
    faults: 0,
    diagnosisPending: 0,
    diagnosisLate: 0,
    diagnosed: { llm: 0, template: 0 },
  };
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Rule name → its work-order group. */
  private readonly ruleGroups = new Map<string, string>();
  /** Work-order key → the alarm keys active under it (one order per fault, not per alarm). */
  private readonly groups = new Map<string, Set<string>>();
  /** Alarms raised in this turn, by work-order key: opened together once the tick is done. */
  private readonly raising = new Map<string, AlarmEvent[]>();
  /** Work orders waiting for their diagnosis before the open goes out, by key. */
  private readonly opening = new Map<string, Promise<void>>();

  private constructor(
    private readonly config: MaintenanceConfig,
    private readonly deps: BridgeDeps,
    private readonly llm: DiagnosisService | undefined,
    private readonly cmms: { dispatcher: WorkOrderDispatcher; store: OrderStore } | undefined,
    private readonly webhook: WorkOrderDispatcher | undefined,
    store: AlarmStateStore | undefined,
  ) {
    this.log = deps.log.child({ component: 'maintenance' });
    this.now = deps.now ?? Date.now;
    this.recent = new RecentSamples({
      windowMs: config.llm.historyMinutes * 60_000,
      pointsPerTag: HISTORY_POINTS_PER_TAG,
      maxAssets: HISTORY_MAX_ASSETS,
      maxTagsPerAsset: HISTORY_MAX_TAGS,
      maxPoints: HISTORY_MAX_POINTS,
    });
    this.engine = new AlarmEngine(
      { rules: config.rules, options: config.alarms },
      {
        onEvent: (e) => this.onEvent(e),
        log: deps.log,
        ...(store ? { store } : {}),
        now: this.now,
      },
    );
    for (const rule of this.engine.rules) this.ruleGroups.set(rule.name, rule.group ?? rule.name);
    for (const alarm of this.engine.list())
      if (alarm.state === 'active_unacked' || alarm.state === 'active_acked')
        this.members(this.orderKey(alarm)).add(alarm.key);
    if (cmms)
      for (const record of cmms.store.all())
        if (record.id !== undefined) this.orders.set(record.key, this.link(record.id, record));
  }

  /** Opens what the config names (state file, outboxes, clients); nothing runs until start(). */
  static async create(config: MaintenanceConfig, deps: BridgeDeps): Promise<MaintenanceBridge> {
    const log = deps.log.child({ component: 'maintenance' });
    const statePath = config.alarms.statePath ?? defaultAlarmStatePath(deps.name);
    let store: AlarmStateStore | undefined;
    try {
      store = new AlarmStateStore(statePath);
    } catch (err) {
      log.error(
        { path: statePath, err: errorMessage(err) },
        'alarm state file cannot be opened; alarm states are kept in memory only and start afresh on restart: fix the folder permissions or set maintenance.alarms.statePath',
      );
    }
    const llm = new DiagnosisService(
      config.llm,
      await createLlmClient(config.llm),
      log.child({ component: 'llm' }),
    );
    // The dispatcher reports orders to the bridge, which needs the dispatcher to be built.
    const ref: { bridge?: MaintenanceBridge } = {};
    const cmms = config.cmms
      ? await createAtlasDispatcher(config.cmms, {
          name: deps.name,
          log: deps.log,
          ...(deps.env ? { env: deps.env } : {}),
          onWorkOrder: (key, info) => ref.bridge?.noteOrder(key, info),
        })
      : undefined;
    const webhook = config.webhook
      ? await createWebhookDispatcher(config.webhook, {
          name: deps.name,
          log: deps.log,
          ...(deps.env ? { env: deps.env } : {}),
        })
      : undefined;
    if (!cmms && !webhook)
      log.warn(
        'maintenance has neither cmms nor webhook: alarms are evaluated, stored and published, but no work order is made',
      );
    ref.bridge = new MaintenanceBridge(config, deps, llm, cmms, webhook, store);
    return ref.bridge;
  }

  start(): void {
    this.cmms?.dispatcher.start();
    this.webhook?.start();
    this.tickTimer = setInterval(() => this.engine.tick(this.now()), this.config.alarms.tickMs);
    this.tickTimer.unref();
  }

  /**
   * Lease holder or not. Every instance evaluates (a hot standby knows which faults are active:
   * report by exception sends an active fault's tags only when they change); only the holder
   * acts. Taking over, it opens an order for each active fault: the dispatcher's marker search
   * adopts the order the previous holder made, or creates it if that one died first.
   */
  setActive(active: boolean): void {
    if (active === this.active) return;
    this.active = active;
    this.log.info(
      { active },
      active ? 'running the maintenance bridge' : 'another gateway runs the maintenance bridge',
    );
    if (!active) return;
    const leads = new Map<string, AlarmSnapshot>();
    for (const alarm of this.engine.list()) {
      const key = this.orderKey(alarm);
      if (this.groups.get(key)?.has(alarm.key) && !leads.has(key)) leads.set(key, alarm);
    }
    for (const [key, alarm] of leads) {
      // Known open here (this instance made or adopted it before): nothing to reconcile.
      if (this.cmms?.store.get(key)?.open) continue;
      this.each((d) =>
        d.open(
          this.openInput(
            key,
            alarm,
            'Taken over by another gateway: the fault was active when the previous one stopped.',
          ),
        ),
      );
    }
  }

  get isActive(): boolean {
    return this.active;
  }

  /** Every sample the gateway accepted. Cheap for tags no rule names. */
  onSample(s: AlarmSample): void {
    if (this.closing) return;
    this.recent.add(s.site, s.asset, s.tag, s.ts, s.value);
    this.engine.onSample(s);
  }

  /** Which node and device an asset's tags come from (the nodes' manifests): comm-loss rules. */
  mapAsset(site: string, asset: string, node: string, device?: string): void {
    this.engine.mapAsset(site, asset, node, device);
  }

  onNodeStatus(site: string, node: string, status: 'online' | 'offline'): void {
    if (this.closing) return;
    this.engine.onNodeStatus(site, node, status, this.now());
  }

  onDeviceStatus(site: string, node: string, device: string, failing: boolean): void {
    if (this.closing) return;
    this.engine.onDeviceStatus(site, node, device, failing, this.now());
  }

  /** Alarms not normal (or shelved), each with its work order when it has one. */
  list(all = false): (AlarmSnapshot & { workOrder?: AlarmWorkOrder })[] {
    return this.engine.list(all).map((a) => {
      const workOrder = this.orders.get(this.orderKey(a));
      return workOrder ? { ...a, workOrder } : a;
    });
  }

  ack(key: string, by: string): AckResult {
    return this.engine.ack(key, by);
  }

  shelve(key: string, shelve: ShelveInfo): AckResult {
    return this.engine.shelve(key, shelve);
  }

  unshelve(key: string, by: string): AckResult {
    return this.engine.unshelve(key, by);
  }

  /** Operator asked to retry parked CMMS actions (after fixing a licence or an asset). */
  retryNow(): void {
    this.cmms?.dispatcher.retryNow();
    this.webhook?.retryNow();
  }

  get stats(): BridgeStats {
    // The outboxes are closed once stopped; a page or health check may still ask.
    if (this.stopped) return this.stopped;
    return {
      active: this.active,
      alarms: this.engine.stats,
      llm: this.llm?.stats(),
      ...(this.cmms ? { cmms: this.cmms.dispatcher.stats() } : {}),
      ...(this.webhook ? { webhook: this.webhook.stats() } : {}),
      faults: this.counters.faults,
      diagnosisPending: this.counters.diagnosisPending,
      diagnosisLate: this.counters.diagnosisLate,
      diagnosed: { ...this.counters.diagnosed },
      recentRefused: this.recent.refused,
    };
  }

  /** Why the bridge cannot do its job now, for /health; empty when it can. */
  get problems(): string[] {
    const out: string[] = [];
    if (this.stopped) return out;
    const cmms = this.cmms?.dispatcher.stats();
    if (cmms?.alarm) out.push(`CMMS: ${cmms.alarm}`);
    const webhook = this.webhook?.stats();
    if (webhook?.alarm) out.push(`webhook: ${webhook.alarm}`);
    const llm = this.llm?.stats();
    if (llm?.configError) out.push(`LLM: ${llm.configError}`);
    return out;
  }

  /** Stops evaluating, gives diagnoses in flight their chance, and closes the outboxes. */
  async stop(): Promise<void> {
    this.closing = true;
    clearInterval(this.tickTimer);
    // Faults raised in this turn go out before the outboxes close.
    for (const [key, events] of [...this.raising]) {
      this.raising.delete(key);
      this.openOrder(key, events);
    }
    this.active = false;
    await this.llm?.stop();
    await Promise.allSettled([...this.inFlight]);
    this.engine.flush();
    this.stopped = this.stats;
    await this.cmms?.dispatcher.stop();
    await this.webhook?.stop();
  }

  private onEvent(e: AlarmEvent): void {
    const key = this.orderKey(e);
    if (!this.active) {
      // A standby keeps which alarms are active under which order, and acts on nothing.
      if (e.kind === 'raised') this.members(key).add(e.key);
      if (e.kind === 'cleared') this.members(key).delete(e.key);
      return;
    }
    const order = this.orders.get(key);
    this.deps.writeLine?.(alarmLine(e, order?.customId ?? (order ? String(order.id) : undefined)));
    this.deps.publish?.(
      alarmTopic(e.site, e.asset, e.rule),
      alarmStatePayload(e, order?.customId ?? (order ? String(order.id) : undefined)),
    );
    switch (e.kind) {
      case 'raised':
        return this.raised(key, e);
      case 'cleared': {
        const members = this.members(key);
        members.delete(e.key);
        const at = new Date(e.ts).toISOString();
        if (members.size > 0)
          return this.after(key, (d) =>
            d.comment(key, `Cleared at ${at}: ${e.text}; ${members.size} alarm(s) still active.`),
          );
        return this.after(key, (d) =>
          d.close(
            key,
            {
              complete: e.closeOnClear || (this.config.cmms?.closeOnClear ?? false),
              text: `Alarm cleared at ${at}: ${e.text}.`,
            },
            e.ts,
          ),
        );
      }
      case 'chattering':
        return this.after(key, (d) =>
          d.comment(
            key,
            `The alarm keeps coming back (chattering): shelved automatically until ${
              e.shelved ? new Date(e.shelved.untilMs).toISOString() : 'further notice'
            }.`,
            e.ts,
          ),
        );
      default:
        return;
    }
  }

  /** `<site>/<asset>/<group>`: the work order an alarm belongs to. */
  private orderKey(a: { site: string; asset: string; rule: string }): string {
    return `${a.site}/${a.asset}/${this.ruleGroups.get(a.rule) ?? a.rule}`;
  }

  private members(key: string): Set<string> {
    let set = this.groups.get(key);
    if (!set) this.groups.set(key, (set = new Set()));
    return set;
  }

  /**
   * Alarms of one group raised in the same tick (fault_alarm and error_code of one fault) make
   * one work order; one raised while its group already has an order is noted on it.
   */
  private raised(key: string, e: AlarmEvent): void {
    const batch = this.raising.get(key);
    if (batch) {
      batch.push(e);
      this.members(key).add(e.key);
      return;
    }
    const members = this.members(key);
    const others = [...members].filter((k) => k !== e.key);
    members.add(e.key);
    if (others.length > 0) {
      this.after(key, (d) =>
        d.comment(
          key,
          `Also active since ${new Date(e.ts).toISOString()}: ${e.text} (rule ${e.rule}).`,
        ),
      );
      return;
    }
    this.raising.set(key, [e]);
    setImmediate(() => {
      // Gone when stop() opened the order already.
      const events = this.raising.get(key);
      if (!events) return;
      this.raising.delete(key);
      this.openOrder(key, events);
    });
  }

  /**
   * A new fault, or one back while its order is open (a re-occurrence: the dispatcher notes it
   * on the order, so it needs no diagnosis). The most telling alarm (highest priority, then the
   * longest text: an error code's meaning over a bare fault bit) leads.
   */
  private openOrder(key: string, events: AlarmEvent[]): void {
    const rank = { HIGH: 3, MEDIUM: 2, LOW: 1, NONE: 0 } as const;
    const [e, ...rest] = [...events].sort(
      (a, b) => rank[b.priority] - rank[a.priority] || b.text.length - a.text.length,
    ) as [AlarmEvent, ...AlarmEvent[]];
    const also = rest.map((r) => `Also: ${r.text} (rule ${r.rule}).`).join('\n');
    const known = this.cmms?.store.get(key);
    if (known?.open) {
      this.each((d) => d.open(this.openInput(key, e, 'Re-occurrence of an open fault.')));
      return;
    }
    this.counters.faults += 1;
    let opened!: () => void;
    this.opening.set(
      key,
      new Promise<void>((resolve) => {
        opened = () => {
          this.opening.delete(key);
          resolve();
        };
      }),
    );
    const ctx = this.context(e);
    const request = this.llm?.request(ctx);
    if (!request) {
      this.each((d) => d.open(this.openInput(key, e, also)));
      opened();
      return;
    }
    const waitMs = this.config.llm.waitMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), waitMs);
    });
    const done = Promise.race([request.result, timedOut]).then((first) => {
      clearTimeout(timer);
      if (first) {
        this.noteDiagnosis(first);
        this.each((d) =>
          d.open(this.openInput(key, e, [also, first.text].filter(Boolean).join('\n\n'))),
        );
        opened();
        return;
      }
      this.counters.diagnosisPending += 1;
      this.each((d) =>
        d.open(
          this.openInput(
            key,
            e,
            (also ? `${also}\n\n` : '') +
              `Diagnosis pending: the maintenance LLM had not answered after ${waitMs} ms; it follows as a comment.`,
          ),
        ),
      );
      opened();
      return request.result.then((late) => {
        this.noteDiagnosis(late);
        this.counters.diagnosisLate += 1;
        this.each((d) => d.comment(key, late.text));
      });
    });
    this.track(done);
  }

  private openInput(key: string, e: AlarmSnapshot, diagnosis: string) {
    const lines = [
      `${e.text} on ${e.asset} (${e.site}/${e.area}/${e.line}).`,
      `Rule ${e.rule}, severity ${e.severity}, raised ${new Date(e.raisedAt ?? e.ts).toISOString()}.`,
    ];
    if (e.description) lines.push(e.description);
    if (e.node) lines.push(`Edge node: ${e.node}.`);
    if (diagnosis) lines.push('', diagnosis);
    return {
      key,
      at: e.raisedAt ?? e.ts,
      site: e.site,
      asset: e.asset,
      title: `${e.asset}: ${e.text}`.slice(0, 200),
      description: lines.join('\n'),
      priority: e.priority,
      ...(e.dueAt !== null ? { dueDate: new Date(e.dueAt).toISOString() } : {}),
      ...(e.assetStatus ? { assetStatus: e.assetStatus as 'DOWN' } : {}),
    };
  }

  private context(e: AlarmEvent): DiagnosisContext {
    const now = this.now();
    const prefix = `${e.site}/${e.asset}/`;
    const workOrders = this.cmms
      ? this.cmms.store
          .all()
          .filter((r) => r.key.startsWith(prefix) && r.id !== undefined)
          .slice(-5)
          .reverse()
          .map((r) => ({
            id: r.id!,
            ...(r.customId ? { customId: r.customId } : {}),
            title: `alarm ${r.key.slice(prefix.length)}`,
            status: r.open ? 'OPEN' : 'COMPLETE',
          }))
      : [];
    return {
      site: e.site,
      area: e.area,
      line: e.line,
      asset: e.asset,
      rule: e.rule,
      ...(e.description ? { ruleDescription: e.description } : {}),
      severity: e.severity,
      priority: e.priority,
      value: e.value,
      text: e.text,
      ts: e.raisedAt ?? e.ts,
      recent: this.recent.of(e.site, e.asset, now),
      workOrders,
    };
  }

  private noteDiagnosis(result: DiagnosisResult): void {
    this.counters.diagnosed[result.source] += 1;
  }

  private noteOrder(key: string, info: WorkOrderInfo): void {
    this.orders.set(key, this.link(info.id, info));
    this.log.info({ key, workOrder: info.customId ?? info.id, url: info.url }, 'work order');
  }

  private link(id: number, info: { customId?: string; open: boolean; url?: string }) {
    const base = this.config.cmms?.frontendUrl ?? this.config.cmms?.url ?? '';
    return {
      id,
      ...(info.customId ? { customId: info.customId } : {}),
      url: info.url ?? `${base.replace(/\/$/, '')}/app/work-orders/${id}`,
      open: info.open,
    };
  }

  /** The same action to the CMMS and the webhook. */
  private each(fn: (d: WorkOrderDispatcher) => void): void {
    if (this.cmms) fn(this.cmms.dispatcher);
    if (this.webhook) fn(this.webhook);
  }

  /** An action on the key's order, queued after the order's open when that still waits. */
  private after(key: string, fn: (d: WorkOrderDispatcher) => void): void {
    const pending = this.opening.get(key);
    if (pending) this.track(pending.then(() => this.each(fn)));
    else this.each(fn);
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.catch((err: unknown) =>
      this.log.error(
        { err: errorMessage(err) },
        'maintenance bridge step failed: please report it',
      ),
    );
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }
}
