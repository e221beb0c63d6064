/** Atlas CMMS shapes (Grashjs/cmms api module), reduced to the fields this project reads or sends. */

export const PRIORITIES = ['NONE', 'LOW', 'MEDIUM', 'HIGH'] as const;
export type Priority = (typeof PRIORITIES)[number];

export const STATUSES = ['OPEN', 'IN_PROGRESS', 'ON_HOLD', 'COMPLETE'] as const;
export type Status = (typeof STATUSES)[number];

/** Statuses of an order someone still has to work on: the ones dedup searches. */
export const UNFINISHED: readonly Status[] = ['OPEN', 'IN_PROGRESS', 'ON_HOLD'];

export const ASSET_STATUSES = [
  'OPERATIONAL',
  'DOWN',
  'STANDBY',
  'MODERNIZATION',
  'INSPECTION_SCHEDULED',
  'COMMISSIONING',
  'EMERGENCY_SHUTDOWN',
] as const;
export type AssetStatus = (typeof ASSET_STATUSES)[number];

/** `GET /assets/mini` item (AssetMiniDTO). */
export interface AtlasAssetMini {
  id: number;
  name: string;
  customId?: string | null;
  parentId?: number | null;
  locationId?: number | null;
}

/** `POST /assets` body (AssetPostDTO, the fields used here). */
export interface AtlasAssetCreate {
  name: string;
  description?: string;
  area?: string;
  barCode?: string;
  status?: AssetStatus;
}

/** WorkOrderShowDTO, the fields used here. */
export interface AtlasWorkOrder {
  id: number;
  customId?: string;
  title: string;
  description?: string | null;
  priority?: Priority;
  status: Status;
  dueDate?: string | null;
  asset?: AtlasAssetMini | null;
  feedback?: string | null;
  createdAt?: string;
}

/** `POST /work-orders` body (WorkOrderPostDTO, the fields used here). */
export interface AtlasWorkOrderCreate {
  title: string;
  /** At most 10,000 characters; Atlas strips HTML. */
  description: string;
  priority: Priority;
  asset: { id: number };
  /** ISO 8601. */
  dueDate?: string;
  assetStatus?: AssetStatus;
}

/** One condition of `POST /work-orders/search` (advancedsearch.FilterField). */
export interface FilterField {
  field: string;
  /** cn, nc, eq, ne, bw, bn, ew, en, nu, nn, gt, ge, lt, le, in, inm. */
  operation: string;
  value?: string | number | boolean;
  values?: (string | number)[];
  /** STATUS, PRIORITY or JS_DATE: turns string values into the enum (required for status). */
  enumName?: 'STATUS' | 'PRIORITY' | 'JS_DATE';
}

/** Paging of a search (advancedsearch.SearchCriteria without the filters). */
export interface SearchPage {
  /** 0-based. */
  pageNum: number;
  pageSize: number;
  sortField: string;
  direction: 'ASC' | 'DESC';
}

/** Spring's Page, the fields used here. */
export interface AtlasPage<T> {
  content: T[];
  totalElements: number;
}

/** CommentShowDTO, the fields used here. */
export interface AtlasComment {
  id: number;
  content: string;
  system?: boolean;
  createdAt?: string;
}

/** `POST /auth/signin` and `/auth/refresh` answer (AuthResponse). */
export interface AtlasAuth {
  accessToken: string;
  refreshToken?: string | null;
  tokenType?: string;
  /** ISO date (Jackson) of the access token's expiry. */
  expiresAt?: string | number | null;
}
