import { z } from 'zod';
import { ASSET_STATUSES, PRIORITIES } from './types.js';

/** Open a work order for an alarm (or, when its order is still open, note a re-occurrence). */
export const openActionSchema = z.strictObject({
  type: z.literal('open'),
  /** Alarm key, `<site>/<asset>/<rule>`: one open work order per key. */
  key: z.string().min(1),
  /** When the alarm fired, ms since the epoch (texts quote it, not the delivery time). */
  at: z.number(),
  site: z.string(),
  /** Asset name of this project; cmms.assets maps it to an Atlas asset. */
  asset: z.string().min(1),
  title: z.string().min(1),
  description: z.string(),
  priority: z.enum(PRIORITIES),
  /** ISO 8601. */
  dueDate: z.string().optional(),
  /** Set the Atlas asset's status with the order (DOWN for a stopped line). */
  assetStatus: z.enum(ASSET_STATUSES).optional(),
});

export const commentActionSchema = z.strictObject({
  type: z.literal('comment'),
  key: z.string().min(1),
  at: z.number(),
  text: z.string().min(1),
});

/** The alarm cleared: COMPLETE the order, or note it in a comment. */
export const closeActionSchema = z.strictObject({
  type: z.literal('close'),
  key: z.string().min(1),
  at: z.number(),
  complete: z.boolean(),
  text: z.string(),
});

export const actionSchema = z.discriminatedUnion('type', [
  openActionSchema,
  commentActionSchema,
  closeActionSchema,
]);

export type OpenAction = z.infer<typeof openActionSchema>;
export type CommentAction = z.infer<typeof commentActionSchema>;
export type CloseAction = z.infer<typeof closeActionSchema>;
export type CmmsAction = z.infer<typeof actionSchema>;
export type ActionType = CmmsAction['type'];
export const ACTION_TYPES: readonly ActionType[] = ['open', 'comment', 'close'];

/** A work order an alarm key has, as the bridge shows it. */
export interface WorkOrderInfo {
  id: number;
  /** Atlas's number shown to people, e.g. WO000123. */
  customId?: string;
  /** `<frontendUrl>/app/work-orders/<id>`. */
  url: string;
  open: boolean;
  /** Found by its marker rather than created by this delivery. */
  adopted: boolean;
}

/** One delivery attempt of a queued action. */
export interface Attempt {
  /** Outbox id of the action: stable across retries and restarts. */
  id: number;
  /** The previous attempt of this same action may have been applied (no answer came). */
  doubtful: boolean;
}

/**
 * Where actions go: Atlas, or a webhook. `apply` resolves once the action took effect and
 * throws a CmmsError (or Deferred) otherwise; the dispatcher decides about retries.
 */
export interface ActionTarget {
  readonly name: string;
  apply(action: CmmsAction, attempt: Attempt): Promise<void>;
  /** Orders created and adopted, for targets that keep orders. */
  readonly counters?: { created: number; adopted: number };
  /** Shutdown, first step: end waits in progress. */
  stop?(): void;
  /** Shutdown, once no attempt runs: release files and connections. */
  close?(): void;
}

/** Not an error: this key's action must wait until `until` (ms since the epoch), others go on. */
export class Deferred extends Error {
  override readonly name = 'Deferred';
  constructor(
    readonly until: number,
    message: string,
  ) {
    super(message);
  }
}
