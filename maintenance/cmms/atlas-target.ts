import type { Logger } from '../../core/logger.js';
import {
  Deferred,
  type ActionTarget,
  type Attempt,
  type CloseAction,
  type CmmsAction,
  type CommentAction,
  type OpenAction,
  type WorkOrderInfo,
} from './actions.js';
import type { AtlasClient } from './atlas-client.js';
import { CmmsError } from './errors.js';
import {
  describe,
  fitStored,
  hasMarker,
  MAX_TITLE,
  storedLength,
  unfinishedOrdersOf,
} from './marker.js';
import type { OrderRecord, OrderStore } from './order-store.js';
import type { AtlasAssetMini, AtlasWorkOrder } from './types.js';

/** How one asset of this project is found in Atlas: exactly one of the three. */
export interface AssetRef {
  name?: string;
  customId?: string;
  barCode?: string;
}

export interface AtlasTargetOptions {
  /** Atlas web front end, for links. */
  frontendUrl: string;
  /** Asset name of this project → Atlas asset; unlisted assets are matched by the same name. */
  assets: Record<string, AssetRef>;
  /** Create an asset in Atlas when none matches. */
  createAssets: boolean;
  /** After a create whose answer never came, wait this long before reconciling, ms. */
  reconcileDelayMs: number;
}

/** How long the asset list is trusted, ms: assets are renamed or added by people, rarely. */
const ASSET_LIST_TTL_MS = 5 * 60_000;
/** Pages of unfinished orders searched for a marker (50 each): far beyond the free tier's 30. */
const MAX_SEARCH_PAGES = 20;

/**
 * Applies actions to Atlas. Dedup is ours (Atlas has no external id): every description ends
 * with the alarm key's marker, and before EVERY create the asset's unfinished orders are
 * searched for it; an order found is adopted. A create is recorded as sent (durably) before it
 * goes out, so after a lost answer or a kill -9 the next attempt waits `reconcileDelayMs` and
 * searches instead of posting blindly.
 */
export class AtlasTarget implements ActionTarget {
  readonly name = 'Atlas CMMS';
  readonly counters = { created: 0, adopted: 0 };
  private assetList?: { at: number; assets: AtlasAssetMini[] };
  private readonly frontendUrl: string;

  constructor(
    private readonly client: AtlasClient,
    private readonly store: OrderStore,
    private readonly options: AtlasTargetOptions,
    private readonly log: Logger,
    private readonly onWorkOrder: (key: string, info: WorkOrderInfo) => void = () => {},
  ) {
    this.frontendUrl = options.frontendUrl.replace(/\/+$/, '');
  }

  apply(action: CmmsAction, attempt: Attempt): Promise<void> {
    switch (action.type) {
      case 'open':
        return this.open(action);
      case 'comment':
        return this.comment(action, attempt);
      case 'close':
        return this.clear(action, attempt);
    }
  }

  /** Ends waits in progress in the client (shutdown). */
  stop(): void {
    this.client.close();
  }

  close(): void {
    this.store.close();
  }

  /** The link people follow to an order. */
  url(id: number): string {
    return `${this.frontendUrl}/app/work-orders/${id}`;
  }

  private async open(action: OpenAction): Promise<void> {
    const { key } = action;
    const known = this.store.get(key);
    if (known?.id !== undefined && known.open) {
      const order = await this.stillUnfinished(known.id);
      if (order) return this.reoccurred(known, action.at);
      this.store.put({ ...known, open: false });
    }
    const asset = await this.resolveAsset(action.asset);
    const sentAt = known?.createSentAt;
    if (sentAt !== undefined && Date.now() < sentAt + this.options.reconcileDelayMs)
      throw new Deferred(
        sentAt + this.options.reconcileDelayMs,
        `create for ${key} in doubt; reconciling later`,
      );
    const existing = await this.findOpen(asset.id, key);
    if (existing) {
      const record = {
        key,
        ...ids(existing),
        assetId: asset.id,
        open: true,
        occurrences: known?.occurrences ?? 1,
      };
      this.store.put(record);
      this.counters.adopted += 1;
      this.log.info(
        { key, id: existing.id, customId: existing.customId },
        "adopted the open work order carrying this alarm's marker",
      );
      this.onWorkOrder(key, this.info(existing, true, true));
      // Found without a create in doubt: the order predates this delivery, so this is a return.
      if (sentAt === undefined) await this.reoccurred(record, action.at);
      return;
    }
    this.store.put({
      key,
      assetId: asset.id,
      open: false,
      occurrences: 1,
      createSentAt: Date.now(),
    });
    let order: AtlasWorkOrder;
    try {
      order = await this.client.createWorkOrder({
        title: fitStored(action.title, MAX_TITLE),
        description: describe(action.description, key),
        priority: action.priority,
        asset: { id: asset.id },
        ...(action.dueDate !== undefined ? { dueDate: action.dueDate } : {}),
        ...(action.assetStatus !== undefined ? { assetStatus: action.assetStatus } : {}),
      });
    } catch (err) {
      // An answer (or no connection) says it was not created; only silence leaves it in doubt.
      if (!(err instanceof CmmsError && err.kind === 'unknown-outcome'))
        this.store.put({ key, assetId: asset.id, open: false, occurrences: 1 });
      throw err;
    }
    this.store.put({ key, ...ids(order), assetId: asset.id, open: true, occurrences: 1 });
    this.counters.created += 1;
    this.log.info(
      { key, id: order.id, customId: order.customId, asset: action.asset },
      'work order created',
    );
    this.onWorkOrder(key, this.info(order, true, false));
  }

  private async reoccurred(record: OrderRecord, at: number): Promise<void> {
    const occurrences = record.occurrences + 1;
    await this.client.addComment(
      record.id!,
      `Alarm re-occurred at ${iso(at)}, occurrence ${occurrences}.`,
    );
    this.store.put({ ...record, occurrences });
  }

  private async comment(action: CommentAction, attempt: Attempt): Promise<void> {
    const known = this.store.get(action.key);
    if (known?.id === undefined) {
      this.log.warn({ key: action.key }, 'comment for an alarm without a work order dropped');
      return;
    }
    await this.postComment(known.id, action.text, attempt);
  }

  private async clear(action: CloseAction, attempt: Attempt): Promise<void> {
    const known = this.store.get(action.key);
    if (known?.id === undefined || !known.open) {
      this.log.debug(
        { key: action.key },
        'clear for an alarm without an open work order: nothing to do',
      );
      return;
    }
    const text = action.text || `Alarm cleared at ${iso(action.at)}.`;
    if (!action.complete) return this.postComment(known.id, text, attempt);
    const order = await this.client.changeStatus(known.id, 'COMPLETE', text);
    this.store.put({ ...known, open: false });
    this.onWorkOrder(action.key, this.info(order, false, false));
  }

  /** A comment whose answer was lost is looked for before it is posted again. */
  private async postComment(id: number, text: string, attempt: Attempt): Promise<void> {
    if (attempt.doubtful) {
      const comments = await this.client.comments(id);
      if (comments.some((c) => !c.system && sameText(c.content, text))) return;
    }
    await this.client.addComment(id, text);
  }

  /** The order when Atlas still has it unfinished; undefined when completed or deleted there. */
  private async stillUnfinished(id: number): Promise<AtlasWorkOrder | undefined> {
    try {
      const order = await this.client.getWorkOrder(id);
      return order.status === 'COMPLETE' ? undefined : order;
    } catch (err) {
      if (err instanceof CmmsError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** The asset's unfinished order carrying this key's marker, newest first. */
  private async findOpen(assetId: number, key: string): Promise<AtlasWorkOrder | undefined> {
    for (let pageNum = 0; pageNum < MAX_SEARCH_PAGES; pageNum++) {
      const page = await this.client.searchWorkOrders(unfinishedOrdersOf(assetId), { pageNum });
      const hit = page.content.find((o) => hasMarker(o.description, key));
      if (hit) return hit;
      if (page.content.length === 0 || (pageNum + 1) * 50 >= page.totalElements) return undefined;
    }
    return undefined;
  }

  private async resolveAsset(asset: string): Promise<AtlasAssetMini> {
    const ref = this.options.assets[asset] ?? { name: asset };
    if (ref.barCode !== undefined) {
      const found = await this.client.assetByBarcode(ref.barCode);
      if (found) return found;
    } else {
      const found =
        matchAsset(await this.assets(false), ref) ?? matchAsset(await this.assets(true), ref);
      if (found) return found;
    }
    const wanted = ref.customId
      ? `customId ${ref.customId}`
      : ref.barCode
        ? `barcode ${ref.barCode}`
        : `name "${ref.name}"`;
    if (!this.options.createAssets || ref.customId !== undefined)
      throw new CmmsError(
        'permanent',
        `asset "${asset}" not found in Atlas (looked for ${wanted}); create it in Atlas, map it under cmms.assets${ref.customId ? '' : ', or set cmms.createAssets: true'}`,
      );
    this.assetList = undefined;
    const created = await this.client.createAsset({
      name: ref.name ?? asset,
      description: `Created by FactoryLM Edge for the alarms of asset ${asset}.`,
      ...(ref.barCode ? { barCode: ref.barCode } : {}),
    });
    this.log.info({ asset, id: created.id }, 'asset created in Atlas');
    return created;
  }

  /** The asset list, cached; `fresh` refetches unless the cache is only seconds old. */
  private async assets(fresh: boolean): Promise<AtlasAssetMini[]> {
    const age = this.assetList ? Date.now() - this.assetList.at : Infinity;
    if (age > ASSET_LIST_TTL_MS || (fresh && age > 10_000))
      this.assetList = { at: Date.now(), assets: await this.client.miniAssets() };
    return this.assetList!.assets;
  }

  private info(order: AtlasWorkOrder, open: boolean, adopted: boolean): WorkOrderInfo {
    return {
      id: order.id,
      ...(order.customId ? { customId: order.customId } : {}),
      url: this.url(order.id),
      open,
      adopted,
    };
  }
}

export function matchAsset(assets: AtlasAssetMini[], ref: AssetRef): AtlasAssetMini | undefined {
  if (ref.customId !== undefined) return assets.find((a) => a.customId === ref.customId);
  const name = ref.name?.trim().toLowerCase();
  return name === undefined ? undefined : assets.find((a) => a.name.trim().toLowerCase() === name);
}

function ids(order: AtlasWorkOrder): Pick<OrderRecord, 'id' | 'customId'> {
  return { id: order.id, ...(order.customId ? { customId: order.customId } : {}) };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Atlas stores comments as given; allow for its sanitiser's entity escaping all the same. */
function sameText(stored: string, sent: string): boolean {
  if (stored.trim() === sent.trim()) return true;
  return (
    storedLength(sent) !== sent.length &&
    stored.trim() === sent.trim().replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  );
}
