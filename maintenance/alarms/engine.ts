import { errorMessage } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { evaluate, type ValueRule } from './conditions.js';
import { AlarmInstance, type AssetRecord } from './instance.js';
import {
  alarmOptionsSchema,
  alarmRulesSchema,
  compileRules,
  type AlarmOptions,
  type AlarmRule,
  type AlarmRulesConfig,
} from './rules.js';
import type { AlarmStateStore, StoredAlarm, StoredAsset } from './state-store.js';
import type {
  AckResult,
  AlarmEvent,
  AlarmEventKind,
  AlarmSample,
  AlarmSnapshot,
  AlarmStats,
  ShelveInfo,
} from './types.js';

export interface AlarmEngineDeps {
  /** Receives every event, synchronously; an exception is logged and counted, never rethrown. */
  onEvent: (e: AlarmEvent) => void;
  log?: Logger;
  /** Keeps alarm states across restarts; without one they live in memory only. */
  store?: AlarmStateStore;
  /** Clock for delays and event times, epoch ms; default Date.now. */
  now?: () => number;
}

const EMPTY: readonly AlarmInstance[] = Object.freeze([]);
/** At most one store error is logged per this many ms (a full disk would log every tick). */
const ERROR_LOG_MS = 10_000;

/** Instances of one tag, by site then asset; `[]` caches "no rule applies". */
interface TagIndex {
  /** Rules naming one asset, by asset: a plant with a rule per asset has thousands per tag. */
  exact: Map<string, AlarmRule[]>;
  /** Rules for every asset (`*`) or for an asset type. */
  wide: AlarmRule[];
  sites: Map<string, Map<string, readonly AlarmInstance[]>>;
}

function newEventCounts(): Record<AlarmEventKind, number> {
  return {
    raised: 0,
    cleared: 0,
    acked: 0,
    shelved: 0,
    unshelved: 0,
    chattering: 0,
    suppressed: 0,
    unsuppressed: 0,
  };
}

/**
 * Alarm rules on live samples (ISA-18.2 states, on/off delays, hysteresis, shelving, chatter,
 * suppression by communication loss). The gateway calls `onSample` for every sample and `tick`
 * every ~250 ms; events go to `onEvent`. See README.md for the semantics.
 *
 * Hot path: a sample of a tag no rule names costs one Map lookup; a sample that reaches rules
 * costs three lookups and, unless its condition changes, no allocation.
 */
export class AlarmEngine {
  readonly rules: readonly AlarmRule[];
  private readonly options: AlarmOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly onEvent: (e: AlarmEvent) => void;
  private readonly store: AlarmStateStore | undefined;

  private readonly tags = new Map<string, TagIndex>();
  private readonly commRules: AlarmRule[];
  private readonly assets = new Map<string, Map<string, AssetRecord>>();
  private readonly byKey = new Map<string, AlarmInstance>();
  private readonly nodeAssets = new Map<string, Set<AssetRecord>>();
  private readonly offlineNodes = new Set<string>();
  private readonly failingDevices = new Set<string>();
  /** Instances with a pending on/off delay, or a rate condition that decays without samples. */
  private readonly timers = new Set<AlarmInstance>();
  private readonly staleInstances: AlarmInstance[] = [];
  private readonly shelvedSet = new Set<AlarmInstance>();
  /** Instances whose condition changed since the last tick: written in one transaction. */
  private readonly dirty = new Set<AlarmInstance>();
  private readonly dirtyAssets = new Set<AssetRecord>();
  private readonly restored = new Map<string, StoredAlarm>();
  private cachedBindings = 0;
  private clock: number;
  private lastErrorLog = -Infinity;

  private readonly counters = {
    samples: 0,
    evaluations: 0,
    badSamplesIgnored: 0,
    outOfOrderIgnored: 0,
    lateSamples: 0,
    typeMismatches: 0,
    refused: 0,
    errors: 0,
    events: newEventCounts(),
  };

  constructor(
    config: { rules?: AlarmRulesConfig; options?: Partial<AlarmOptions> },
    deps: AlarmEngineDeps,
  ) {
    this.rules = compileRules(config.rules ?? alarmRulesSchema.parse([]));
    this.options = { ...alarmOptionsSchema.parse({}), ...config.options };
    this.log = (deps.log ?? silentLogger).child({ component: 'alarms' });
    this.now = deps.now ?? Date.now;
    this.onEvent = deps.onEvent;
    this.store = deps.store;
    this.clock = this.now();
    this.commRules = this.rules.filter((r) => r.kind === 'comm_loss');
    for (const rule of this.rules) {
      if (rule.kind === 'comm_loss') continue;
      let index = this.tags.get(rule.tag);
      if (!index)
        this.tags.set(rule.tag, (index = { exact: new Map(), wide: [], sites: new Map() }));
      if (rule.asset === undefined || rule.asset === '*') index.wide.push(rule);
      else {
        const list = index.exact.get(rule.asset);
        if (list) list.push(rule);
        else index.exact.set(rule.asset, [rule]);
      }
    }
    const types = new Set(Object.values(this.options.assetTypes));
    for (const rule of this.rules)
      if (rule.assetType !== undefined && !types.has(rule.assetType))
        this.log.warn(
          { rule: rule.name, assetType: rule.assetType },
          'no asset has this type: map assets to types in maintenance.alarms.assetTypes, or the rule never applies',
        );
    if (this.store) this.restore(this.store);
  }

  /** Evaluates one sample against the rules of its tag. */
  onSample(s: AlarmSample): void {
    const index = this.tags.get(s.tag);
    if (index === undefined) return;
    const list = index.sites.get(s.site)?.get(s.asset) ?? this.bind(index, s);
    if (list.length === 0) return;
    this.counters.samples += 1;
    const rec = list[0]!.rec;
    if (s.node !== undefined && s.node !== rec.node) this.learnNode(rec, s.node, rec.device);
    rec.area = s.area;
    rec.line = s.line;
    const good = s.quality === 'good';
    if (!good) this.counters.badSamplesIgnored += 1;
    for (let i = 0; i < list.length; i++) this.apply(list[i]!, s, good);
  }

  /** An edge node's retained status (its MQTT Will says `offline`). */
  onNodeStatus(site: string, node: string, status: 'online' | 'offline', _ts: number): void {
    const id = `${site}/${node}`;
    if (status === 'offline') this.offlineNodes.add(id);
    else this.offlineNodes.delete(id);
    for (const rec of this.nodeAssets.get(id) ?? []) this.evaluateComm(rec);
  }

  /** A device's status as its node reports it; `failing` after repeated failed reads. */
  onDeviceStatus(site: string, node: string, device: string, failing: boolean, _ts: number): void {
    const id = `${site}/${node}/${device}`;
    if (failing) this.failingDevices.add(id);
    else this.failingDevices.delete(id);
    for (const rec of this.nodeAssets.get(`${site}/${node}`) ?? [])
      if (rec.device === device) this.evaluateComm(rec);
  }

  /**
   * Says which node and device an asset's tags come from (from the nodes' tag manifests), for
   * comm-loss alarms; samples teach the node too, but not the device.
   */
  mapAsset(site: string, asset: string, node: string, device?: string): void {
    if (!this.rules.some((r) => this.matches(r, asset))) return;
    const rec = this.assetRecord(site, asset, '', '');
    if (rec && (rec.node !== node || rec.device !== device)) this.learnNode(rec, node, device);
  }

  /** Runs timers: on/off delays, stale tags, rate decay, shelve expiry; writes changed states. */
  tick(now: number): void {
    this.clock = now;
    for (const inst of this.timers) {
      const rule = inst.rule;
      if (rule.kind === 'rate' && inst.cond && now - inst.lastSeenAt > rule.windowMs) {
        inst.rate = 0;
        this.setCond(inst, false, now);
      } else this.step(inst, now);
    }
    for (const inst of this.staleInstances) {
      const rule = inst.rule as Extract<AlarmRule, { kind: 'stale' }>;
      if (!inst.cond && now - inst.lastSeenAt >= rule.afterMs) this.setCond(inst, true, now);
    }
    for (const inst of this.shelvedSet)
      if (now >= inst.shelved!.untilMs) this.endShelve(inst, 'expiry', now);
    this.flush();
  }

  /**
   * After a pause in which samples did not reach the engine (another gateway held the bridge's
   * lease), stale timers start again from `now`, so a take-over does not call every tag stale.
   */
  resumeTimers(now: number): void {
    this.clock = now;
    for (const inst of this.staleInstances) inst.lastSeenAt = now;
  }

  /** Acknowledges an alarm: active_unacked → active_acked, returned_unacked → normal. */
  ack(key: string, by: string): AckResult {
    const inst = this.byKey.get(key);
    if (!inst) return this.notFound(key);
    if (inst.acked)
      return {
        ok: false,
        status: 'conflict',
        error: `${key} is acknowledged already (${inst.state})`,
      };
    const now = this.now();
    inst.acked = true;
    if (!inst.announced) inst.occurrences = 0;
    this.emit(inst, 'acked', now, by);
    return { ok: true, state: inst.state };
  }

  /** Shelves an alarm until `untilMs`: it raises nothing meanwhile and is evaluated again after. */
  shelve(key: string, shelve: ShelveInfo): AckResult {
    const inst = this.byKey.get(key);
    if (!inst) return this.notFound(key);
    const now = this.now();
    if (!(shelve.untilMs > now) || shelve.untilMs - now > this.options.maxShelveMs)
      return {
        ok: false,
        status: 'invalid',
        error: `shelve ${key}: the end must be in the future and at most ${Math.round(this.options.maxShelveMs / 3_600_000)} h away (maintenance.alarms.maxShelveMs)`,
      };
    inst.shelved = { untilMs: shelve.untilMs, by: shelve.by, reason: shelve.reason };
    this.shelvedSet.add(inst);
    this.emit(inst, 'shelved', now, shelve.by);
    return { ok: true, state: inst.state };
  }

  unshelve(key: string, by: string): AckResult {
    const inst = this.byKey.get(key);
    if (!inst) return this.notFound(key);
    if (!inst.shelved) return { ok: false, status: 'conflict', error: `${key} is not shelved` };
    this.endShelve(inst, by, this.now());
    return { ok: true, state: inst.state };
  }

  /** Every alarm not in the normal state, and every shelved one; `all` adds the normal ones. */
  list(all = false): AlarmSnapshot[] {
    const out: AlarmSnapshot[] = [];
    for (const inst of this.byKey.values())
      if (all || inst.state !== 'normal' || inst.shelved) out.push(inst.snapshot());
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  get stats(): AlarmStats {
    let active = 0;
    let unacked = 0;
    let suppressed = 0;
    for (const inst of this.byKey.values()) {
      if (inst.announced) active += 1;
      if (!inst.acked) unacked += 1;
      if (inst.suppressed) suppressed += 1;
    }
    let chattering = 0;
    for (const inst of this.shelvedSet) if (inst.shelved!.by === 'chatter') chattering += 1;
    const c = this.counters;
    return {
      rules: this.rules.length,
      alarms: this.byKey.size,
      samples: c.samples,
      evaluations: c.evaluations,
      active,
      unacked,
      shelved: this.shelvedSet.size,
      suppressed,
      chattering,
      events: { ...c.events },
      badSamplesIgnored: c.badSamplesIgnored,
      outOfOrderIgnored: c.outOfOrderIgnored,
      lateSamples: c.lateSamples,
      typeMismatches: c.typeMismatches,
      refused: c.refused,
      errors: c.errors,
    };
  }

  /** Writes the states changed since the last tick (call before closing the store). */
  flush(): void {
    if ((this.dirty.size > 0 || this.dirtyAssets.size > 0) && this.store) {
      try {
        this.store.save(
          [...this.dirty].map((i) => i.toStored()),
          this.takeDirtyAssets(),
        );
      } catch (err) {
        this.fail(err, 'alarm states not saved');
      }
    }
    this.dirty.clear();
    this.dirtyAssets.clear();
  }

  private takeDirtyAssets(): StoredAsset[] {
    const out = [...this.dirtyAssets].map(({ site, asset, node, device }) => ({
      site,
      asset,
      node,
      device,
    }));
    this.dirtyAssets.clear();
    return out;
  }

  // ---- evaluation ----

  private apply(inst: AlarmInstance, s: AlarmSample, good: boolean): void {
    if (s.ts < inst.lastTs) {
      this.counters.outOfOrderIgnored += 1;
      return;
    }
    this.counters.evaluations += 1;
    inst.lastTs = s.ts;
    const rule = inst.rule;
    if (rule.kind === 'stale') {
      if (!good) return;
      inst.lastSeenAt = this.clock;
      if (inst.cond) this.setCond(inst, false, this.now());
      return;
    }
    if (!good || rule.kind === 'comm_loss') return;
    inst.lastValue = s.value;
    let rate = 0;
    if (rule.kind === 'rate') {
      const n =
        typeof s.value === 'number' ? s.value : typeof s.value === 'boolean' ? +s.value : NaN;
      if (!Number.isFinite(n)) return this.mismatch(inst, s);
      rate = inst.rate = inst.window!.push(s.ts, n);
      inst.lastSeenAt = this.clock;
    }
    const cond = evaluate(rule as ValueRule, s.value, inst.cond, rate);
    if (cond === undefined) return this.mismatch(inst, s);
    if (cond === inst.cond) return;
    // History replayed after an outage may clear an alarm but never starts one.
    if (cond && !inst.active && s.ts < this.clock - this.options.lateSampleMs) {
      this.counters.lateSamples += 1;
      return;
    }
    this.setCond(inst, cond, this.now());
  }

  private mismatch(inst: AlarmInstance, s: AlarmSample): void {
    this.counters.typeMismatches += 1;
    if (inst.warned) return;
    inst.warned = true;
    this.log.warn(
      { alarm: inst.key, kind: inst.rule.kind, value: s.value },
      'value cannot be compared by this rule (logged once per alarm): check the rule kind against the tag type',
    );
  }

  private evaluateComm(rec: AssetRecord): void {
    const nodeOffline = rec.node !== undefined && this.offlineNodes.has(`${rec.site}/${rec.node}`);
    const deviceFailing =
      rec.node !== undefined &&
      rec.device !== undefined &&
      this.failingDevices.has(`${rec.site}/${rec.node}/${rec.device}`);
    for (const inst of rec.instances) {
      const rule = inst.rule;
      if (rule.kind !== 'comm_loss') continue;
      const cond =
        (rule.source !== 'device' && nodeOffline) || (rule.source !== 'node' && deviceFailing);
      if (cond !== inst.cond) this.setCond(inst, cond, this.now());
    }
  }

  private setCond(inst: AlarmInstance, cond: boolean, now: number): void {
    inst.cond = cond;
    inst.condSince = now;
    this.dirty.add(inst);
    this.step(inst, now);
  }

  /** Applies the on/off delay: the debounced state follows the condition once it held long enough. */
  private step(inst: AlarmInstance, now: number): void {
    if (inst.cond !== inst.active) {
      const delay = inst.cond ? inst.rule.onDelayMs : inst.rule.offDelayMs;
      if (now - inst.condSince >= delay) {
        if (inst.cond) this.activate(inst, now);
        else this.deactivate(inst, now);
      }
    }
    const waiting = inst.cond !== inst.active || (inst.rule.kind === 'rate' && inst.cond);
    if (waiting) this.timers.add(inst);
    else this.timers.delete(inst);
  }

  private activate(inst: AlarmInstance, now: number): void {
    inst.active = true;
    inst.ts = now;
    const { activations, windowMs, shelveMs } = this.options.chatter;
    // The latest `activations` times are all chatter needs: the list stays that short.
    inst.activations = inst.activations.filter((t) => now - t < windowMs).slice(1 - activations);
    inst.activations.push(now);
    if (inst.activations.length >= activations && !inst.shelved) {
      inst.shelved = {
        untilMs: now + shelveMs,
        by: 'chatter',
        reason: `${inst.activations.length} activations within ${Math.round(windowMs / 1000)} s`,
      };
      this.shelvedSet.add(inst);
      inst.text = this.describe(inst);
      this.emit(inst, 'chattering', now, 'chatter');
    } else if (inst.silenced) this.dirty.add(inst);
    else this.announce(inst, now);
    // After its own raise, so consumers see the cause before the alarms it holds back.
    if (inst.rule.kind === 'comm_loss') this.suppress(inst.rec, now);
  }

  private announce(inst: AlarmInstance, now: number): void {
    inst.announced = true;
    inst.acked = false;
    inst.occurrences += 1;
    inst.raisedAt = now;
    inst.text = this.describe(inst);
    this.emit(inst, 'raised', now);
  }

  private deactivate(inst: AlarmInstance, now: number): void {
    inst.active = false;
    inst.ts = now;
    if (inst.announced) {
      inst.announced = false;
      if (inst.acked) inst.occurrences = 0;
      inst.text = this.describe(inst);
      this.emit(inst, 'cleared', now);
    } else this.dirty.add(inst);
    if (inst.rule.kind === 'comm_loss') this.unsuppress(inst.rec, now);
  }

  private endShelve(inst: AlarmInstance, by: string, now: number): void {
    inst.shelved = null;
    this.shelvedSet.delete(inst);
    this.emit(inst, 'unshelved', now, by);
    if (inst.active && !inst.announced && !inst.silenced) this.announce(inst, now);
  }

  /** A comm-loss alarm of the asset became active: its other alarms are held back. */
  private suppress(rec: AssetRecord, now: number): void {
    rec.suppressors += 1;
    if (rec.suppressors !== 1) return;
    for (const inst of rec.instances) {
      if (inst.rule.kind === 'comm_loss' || !inst.announced || inst.suppressNotified) continue;
      inst.suppressNotified = true;
      this.emit(inst, 'suppressed', now);
    }
  }

  private unsuppress(rec: AssetRecord, now: number): void {
    rec.suppressors = Math.max(0, rec.suppressors - 1);
    if (rec.suppressors !== 0) return;
    for (const inst of rec.instances) {
      if (inst.rule.kind === 'comm_loss') continue;
      if (inst.suppressNotified) {
        inst.suppressNotified = false;
        this.emit(inst, 'unsuppressed', now);
      }
      if (inst.active && !inst.announced && !inst.silenced) this.announce(inst, now);
    }
  }

  private describe(inst: AlarmInstance): string {
    const { rec } = inst;
    return inst.describe(
      rec.node !== undefined && this.offlineNodes.has(`${rec.site}/${rec.node}`),
      rec.device !== undefined && this.failingDevices.has(`${rec.site}/${rec.node}/${rec.device}`),
    );
  }

  /** Saves the instance, then tells the caller: an event never announces an unsaved state. */
  private emit(inst: AlarmInstance, kind: AlarmEventKind, now: number, by?: string): void {
    inst.ts = now;
    this.counters.events[kind] += 1;
    this.dirty.delete(inst);
    if (this.store) {
      try {
        // With any node mapping learned since the last tick, which a restored comm loss needs.
        this.store.save([inst.toStored()], this.takeDirtyAssets());
      } catch (err) {
        this.fail(err, 'alarm state not saved');
      }
    }
    const event: AlarmEvent = { ...inst.snapshot(), kind, ...(by !== undefined ? { by } : {}) };
    if (kind === 'raised' || kind === 'chattering')
      this.log.info(
        { alarm: inst.key, kind, text: inst.text, severity: inst.rule.severity },
        'alarm',
      );
    else this.log.debug({ alarm: inst.key, kind, state: event.state, by }, 'alarm');
    try {
      this.onEvent(event);
    } catch (err) {
      this.fail(err, 'alarm event handler failed');
    }
  }

  private fail(err: unknown, what: string): void {
    this.counters.errors += 1;
    if (this.clock - this.lastErrorLog < ERROR_LOG_MS) return;
    this.lastErrorLog = this.clock;
    this.log.error({ err: errorMessage(err), errors: this.counters.errors }, what);
  }

  private notFound(key: string): AckResult {
    return {
      ok: false,
      status: 'not-found',
      error: `no alarm ${key}: keys are <site>/<asset>/<rule>; \`factorylm alarms list --all\` shows every known one`,
    };
  }

  // ---- assets and instances ----

  private matches(rule: AlarmRule, asset: string): boolean {
    if (rule.asset !== undefined && rule.asset !== '*' && rule.asset !== asset) return false;
    return rule.assetType === undefined || this.options.assetTypes[asset] === rule.assetType;
  }

  /** First sample of a tag on an asset: which rules apply, cached (an empty list too). */
  private bind(index: TagIndex, s: AlarmSample): readonly AlarmInstance[] {
    if (this.cachedBindings >= this.options.maxAlarms * 2) return this.refuse(s);
    const rules = [...(index.exact.get(s.asset) ?? []), ...index.wide].filter((r) =>
      this.matches(r, s.asset),
    );
    const rec = rules.length > 0 ? this.assetRecord(s.site, s.asset, s.area, s.line) : undefined;
    if (rules.length > 0 && !rec) return this.refuse(s);
    const list = rules.length > 0 ? rules.map((r) => this.instance(rec!, r)) : EMPTY;
    let assets = index.sites.get(s.site);
    if (!assets) index.sites.set(s.site, (assets = new Map()));
    assets.set(s.asset, list);
    this.cachedBindings += 1;
    return list;
  }

  private refuse(s: AlarmSample): readonly AlarmInstance[] {
    this.counters.refused += 1;
    if (this.counters.refused === 1)
      this.log.warn(
        { site: s.site, asset: s.asset, maxAlarms: this.options.maxAlarms },
        'too many alarm instances: new assets are not evaluated; raise maintenance.alarms.maxAlarms or narrow the rules',
      );
    return EMPTY;
  }

  /** The asset's record, created with its comm-loss alarms; undefined when the limit is reached. */
  private assetRecord(
    site: string,
    asset: string,
    area: string,
    line: string,
  ): AssetRecord | undefined {
    let bySite = this.assets.get(site);
    if (!bySite) this.assets.set(site, (bySite = new Map()));
    let rec = bySite.get(asset);
    if (rec) return rec;
    if (this.byKey.size >= this.options.maxAlarms) return undefined;
    rec = { site, asset, area, line, instances: [], suppressors: 0 };
    bySite.set(asset, rec);
    for (const rule of this.commRules) if (this.matches(rule, asset)) this.instance(rec, rule);
    return rec;
  }

  /** The alarm of `rule` on the asset: known, restored from the store, or new. */
  private instance(rec: AssetRecord, rule: AlarmRule): AlarmInstance {
    const key = `${rec.site}/${rec.asset}/${rule.name}`;
    const known = this.byKey.get(key);
    if (known) return known;
    const inst = new AlarmInstance(rule, rec, this.clock);
    const stored = this.restored.get(key);
    if (stored) {
      this.restored.delete(key);
      inst.restore(stored);
      if (inst.active && rule.kind === 'comm_loss') rec.suppressors += 1;
      if (inst.shelved) this.shelvedSet.add(inst);
      if (inst.cond !== inst.active || (rule.kind === 'rate' && inst.cond)) this.timers.add(inst);
    } else this.dirty.add(inst);
    this.byKey.set(key, inst);
    rec.instances.push(inst);
    if (rule.kind === 'stale') this.staleInstances.push(inst);
    return inst;
  }

  private learnNode(rec: AssetRecord, node: string, device: string | undefined): void {
    this.attachNode(rec, node, device);
    this.dirtyAssets.add(rec);
    this.evaluateComm(rec);
  }

  /** Files the asset under its node, for node and device status. */
  private attachNode(rec: AssetRecord, node: string, device: string | undefined): void {
    if (rec.node !== undefined) this.nodeAssets.get(`${rec.site}/${rec.node}`)?.delete(rec);
    rec.node = node;
    rec.device = device;
    const id = `${rec.site}/${node}`;
    let set = this.nodeAssets.get(id);
    if (!set) this.nodeAssets.set(id, (set = new Set()));
    set.add(rec);
  }

  /** Loads saved states: active alarms stay active without a new event, timers resume. */
  private restore(store: AlarmStateStore): void {
    const { alarms, bad } = store.load();
    if (bad.length > 0) this.log.warn({ rows: bad.length }, 'unreadable alarm states skipped');
    const ruleNames = new Map(this.rules.map((r) => [r.name, r]));
    for (const a of alarms) {
      if (ruleNames.has(a.rule)) this.restored.set(a.key, a);
      else store.delete(a.key);
    }
    for (const a of [...this.restored.values()]) {
      const rec = this.assetRecord(a.site, a.asset, a.area, a.line);
      const rule = ruleNames.get(a.rule)!;
      if (rec && this.matches(rule, a.asset)) this.instance(rec, rule);
    }
    for (const left of this.restored.keys()) store.delete(left);
    this.restored.clear();
    for (const m of store.loadAssets()) {
      const rec = this.assets.get(m.site)?.get(m.asset);
      if (rec && m.node !== undefined) this.attachNode(rec, m.node, m.device);
    }
    if (this.byKey.size > 0)
      this.log.info(
        { alarms: this.byKey.size, active: this.stats.active },
        'alarm states restored',
      );
  }
}
