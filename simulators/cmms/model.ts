import {
  ASSET_STATUSES,
  PRIORITIES,
  STATUSES,
  type FilterField,
  type Priority,
  type Status,
} from '../../maintenance/cmms/types.js';

export interface SimUser {
  id: number;
  email: string;
  password: string;
  companyId: number;
}

export interface SimAsset {
  id: number;
  companyId: number;
  name: string;
  customId: string;
  barCode?: string;
  status: string;
  description?: string;
}

export interface SimWorkOrder {
  id: number;
  companyId: number;
  customId: string;
  title: string;
  description: string;
  priority: Priority;
  status: Status;
  dueDate: string | null;
  assetId: number | null;
  feedback: string | null;
  createdAt: string;
  updatedAt: string;
  completedOn: string | null;
}

export interface SimComment {
  id: number;
  workOrderId: number;
  userId: number;
  content: string;
  createdAt: string;
}

/** An answer the HTTP layer sends as Atlas's `{success:false, message}`. */
export class SimError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Free-tier limits of Atlas (utils/Consts.java usageBasedFreeLimits). */
export interface Limits {
  /** Unfinished work orders per company. Default 30. */
  workOrders: number;
  /** Assets per company. Default 50. */
  assets: number;
  /** Licensed features (barcode lookup) are available. Default false. */
  licensed: boolean;
}

/** Atlas's HTML sanitiser (Jsoup.clean with Safelist.none): tags dropped, & < > escaped, trimmed. */
export function sanitize(text: string): string {
  return text
    .replace(/<[^>]*>/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .trim();
}

/**
 * The state of a simulated Atlas: companies (one per e-mail domain), users, assets, work orders,
 * comments. Every query is scoped to the caller's company, as Atlas's are.
 */
export class AtlasModel {
  readonly users: SimUser[] = [];
  readonly assets: SimAsset[] = [];
  readonly orders: SimWorkOrder[] = [];
  readonly comments: SimComment[] = [];
  readonly companies = new Map<string, number>();
  limits: Limits = { workOrders: 30, assets: 50, licensed: false };
  private nextId = 1;

  /** Adds a user; users whose e-mails share a domain share a company. */
  addUser(email: string, password: string): SimUser {
    const domain = email.split('@')[1] ?? email;
    let companyId = this.companies.get(domain);
    if (companyId === undefined) {
      companyId = this.companies.size + 1;
      this.companies.set(domain, companyId);
    }
    const user = { id: this.nextId++, email: email.toLowerCase(), password, companyId };
    this.users.push(user);
    return user;
  }

  signIn(email: string, password: string): SimUser | undefined {
    return this.users.find((u) => u.email === email.toLowerCase() && u.password === password);
  }

  userByEmail(email: string): SimUser | undefined {
    return this.users.find((u) => u.email === email);
  }

  assetsOf(companyId: number): SimAsset[] {
    return this.assets.filter((a) => a.companyId === companyId);
  }

  createAsset(user: SimUser, body: Record<string, unknown>): SimAsset {
    if (typeof body.name !== 'string' || body.name.trim() === '')
      throw new SimError(400, 'name must not be blank');
    if (this.assetsOf(user.companyId).length >= this.limits.assets)
      throw new SimError(
        403,
        `You need a license to add a new asset. Free Limit reached: ${this.limits.assets}`,
      );
    const status =
      typeof body.status === 'string' && (ASSET_STATUSES as readonly string[]).includes(body.status)
        ? body.status
        : 'OPERATIONAL';
    const id = this.nextId++;
    const asset: SimAsset = {
      id,
      companyId: user.companyId,
      name: sanitize(body.name),
      customId: `A${String(this.assetsOf(user.companyId).length + 1).padStart(6, '0')}`,
      status,
      ...(typeof body.barCode === 'string' ? { barCode: body.barCode } : {}),
      ...(typeof body.description === 'string' ? { description: sanitize(body.description) } : {}),
    };
    this.assets.push(asset);
    return asset;
  }

  assetByBarcode(user: SimUser, data: string): SimAsset {
    if (!this.limits.licensed) throw new SimError(403, 'You need a license to scan an asset');
    const asset = this.assetsOf(user.companyId).find((a) => a.barCode === data);
    // Atlas calls Optional.get() on the lookup: an unknown barcode is a 500.
    if (!asset) throw new SimError(500, 'No value present');
    return asset;
  }

  createWorkOrder(user: SimUser, body: Record<string, unknown>): SimWorkOrder {
    if (typeof body.title !== 'string') throw new SimError(400, 'title must not be null');
    const unfinished = this.orders.filter(
      (o) => o.companyId === user.companyId && o.status !== 'COMPLETE',
    ).length;
    if (unfinished >= this.limits.workOrders)
      throw new SimError(
        403,
        `You need a license to add a new work order. Free Limit of ${this.limits.workOrders} incomplete work orders reached`,
      );
    const priority = (PRIORITIES as readonly unknown[]).includes(body.priority)
      ? (body.priority as Priority)
      : 'NONE';
    const assetRef = body.asset as { id?: unknown } | undefined;
    let assetId: number | null = null;
    if (assetRef && typeof assetRef.id === 'number') {
      const asset = this.assets.find((a) => a.id === assetRef.id);
      if (!asset || asset.companyId !== user.companyId) throw new SimError(404, 'Asset not found');
      assetId = asset.id;
      if (typeof body.assetStatus === 'string') asset.status = body.assetStatus;
    }
    const title = sanitize(body.title);
    const description = typeof body.description === 'string' ? sanitize(body.description) : '';
    // A column too short is a database error, which Atlas's advice answers with 500.
    if (title.length > 255 || description.length > 10_000)
      throw new SimError(
        500,
        'could not execute statement; value too long for type character varying',
      );
    const now = new Date().toISOString();
    const companyOrders = this.orders.filter((o) => o.companyId === user.companyId).length;
    const order: SimWorkOrder = {
      id: this.nextId++,
      companyId: user.companyId,
      customId: `WO${String(companyOrders + 1).padStart(6, '0')}`,
      title,
      description,
      priority,
      status: 'OPEN',
      dueDate: typeof body.dueDate === 'string' ? body.dueDate : null,
      assetId,
      feedback: null,
      createdAt: now,
      updatedAt: now,
      completedOn: null,
    };
    this.orders.push(order);
    return order;
  }

  /** The order when the user's company owns it; 404 otherwise, as Atlas's access check. */
  order(user: SimUser, id: number): SimWorkOrder {
    const order = this.orders.find((o) => o.id === id);
    if (!order) throw new SimError(404, 'Not found');
    if (order.companyId !== user.companyId) throw new SimError(403, 'Forbidden');
    return order;
  }

  ordersOfAsset(user: SimUser, assetId: number): SimWorkOrder[] {
    const asset = this.assets.find((a) => a.id === assetId);
    if (!asset) throw new SimError(404, 'Not found');
    if (asset.companyId !== user.companyId) throw new SimError(403, 'Access denied');
    return this.orders.filter((o) => o.assetId === assetId);
  }

  changeStatus(user: SimUser, id: number, body: Record<string, unknown>): SimWorkOrder {
    const order = this.order(user, id);
    if (!(STATUSES as readonly unknown[]).includes(body.status))
      throw new SimError(406, "Status can't be null");
    order.status = body.status as Status;
    order.feedback = typeof body.feedback === 'string' ? sanitize(body.feedback) : null;
    order.completedOn = order.status === 'COMPLETE' ? new Date().toISOString() : null;
    order.updatedAt = new Date().toISOString();
    return order;
  }

  addComment(user: SimUser, body: Record<string, unknown>): SimComment {
    const ref = body.workOrder as { id?: unknown } | undefined;
    if (!ref || typeof ref.id !== 'number') throw new SimError(400, 'workOrder must not be null');
    if (typeof body.content !== 'string' || body.content.trim() === '')
      throw new SimError(400, 'content must not be blank');
    this.order(user, ref.id);
    const comment = {
      id: this.nextId++,
      workOrderId: ref.id,
      userId: user.id,
      content: body.content,
      createdAt: new Date().toISOString(),
    };
    this.comments.push(comment);
    return comment;
  }

  commentsOf(user: SimUser, workOrderId: number): SimComment[] {
    this.order(user, workOrderId);
    return this.comments.filter((c) => c.workOrderId === workOrderId);
  }

  /** `POST /work-orders/search`: the company's orders matching every filter, one page. */
  search(
    user: SimUser,
    criteria: Record<string, unknown>,
  ): { content: SimWorkOrder[]; totalElements: number; pageNum: number; pageSize: number } {
    const filters = Array.isArray(criteria.filterFields)
      ? (criteria.filterFields as FilterField[])
      : [];
    for (const f of filters) checkFilter(f);
    const pageNum = typeof criteria.pageNum === 'number' ? criteria.pageNum : 0;
    const pageSize = typeof criteria.pageSize === 'number' ? criteria.pageSize : 10;
    const sortField = criteria.sortField === 'createdAt' ? 'createdAt' : 'id';
    const sign = criteria.direction === 'DESC' ? -1 : 1;
    const all = this.orders
      .filter((o) => o.companyId === user.companyId && filters.every((f) => matches(o, f)))
      .sort((a, b) =>
        a[sortField] < b[sortField] ? -sign : a[sortField] > b[sortField] ? sign : 0,
      );
    return {
      content: all.slice(pageNum * pageSize, (pageNum + 1) * pageSize),
      totalElements: all.length,
      pageNum,
      pageSize,
    };
  }
}

const OPERATIONS = new Set([
  'cn',
  'nc',
  'eq',
  'ne',
  'bw',
  'bn',
  'ew',
  'en',
  'nu',
  'nn',
  'gt',
  'ge',
  'lt',
  'le',
  'in',
  'inm',
]);
const FIELDS = new Set([
  'id',
  'status',
  'priority',
  'asset',
  'title',
  'description',
  'customId',
  'createdAt',
  'dueDate',
  'archived',
]);

/** Atlas answers an unknown field or operation with 400 (InvalidSearchFieldException). */
function checkFilter(f: FilterField): void {
  if (typeof f?.field !== 'string' || !FIELDS.has(f.field) || !OPERATIONS.has(f.operation))
    throw new SimError(400, `Invalid search field: ${String(f?.field)}`);
}

function fieldValue(o: SimWorkOrder, field: string): unknown {
  if (field === 'asset') return o.assetId;
  if (field === 'archived') return false;
  return o[field as keyof SimWorkOrder];
}

/**
 * One filter, as WrapperSpecification builds it. An enum column compared with a plain string
 * (`eq` on status, or `in` without `enumName`) matches nothing, as it does on the real server.
 */
function matches(o: SimWorkOrder, f: FilterField): boolean {
  const actual = fieldValue(o, f.field);
  const isEnum = f.field === 'status' || f.field === 'priority';
  const values = f.values ?? [];
  switch (f.operation) {
    case 'eq':
      return !isEnum && actual === f.value;
    case 'ne':
      return isEnum || actual !== f.value;
    case 'in':
    case 'inm':
      if (isEnum && f.enumName === undefined) return false;
      return values.some((v) => v === actual);
    case 'cn':
      return String(actual ?? '')
        .toLowerCase()
        .includes(String(f.value ?? '').toLowerCase());
    case 'nc':
      return !String(actual ?? '')
        .toLowerCase()
        .includes(String(f.value ?? '').toLowerCase());
    case 'nu':
      return actual === null || actual === undefined;
    case 'nn':
      return actual !== null && actual !== undefined;
    default:
      return false;
  }
}
