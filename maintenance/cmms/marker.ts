import { UNFINISHED, type FilterField, type SearchPage, type Status } from './types.js';

/** Atlas's column limits (WorkOrderBase: description `length = 10000`, title the JPA default). */
export const MAX_DESCRIPTION = 10_000;
export const MAX_TITLE = 255;

/**
 * The dedup marker put in every description: Atlas has no external id, so this text is how a
 * search finds the order an alarm key already has. Characters Atlas's HTML sanitiser would
 * rewrite (`&`, `<`, `>`) and anything outside a plain set are percent-encoded, so the marker
 * reads back exactly as written.
 */
export function marker(key: string): string {
  const safe = key.replace(/[^A-Za-z0-9._~/:@-]/g, (c) =>
    [...Buffer.from(c, 'utf8')]
      .map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`)
      .join(''),
  );
  return `[factorylm:${safe}]`;
}

/** Whether this description carries the key's marker (and not a longer key's). */
export function hasMarker(description: string | null | undefined, key: string): boolean {
  return description?.includes(marker(key)) ?? false;
}

/**
 * Length after Atlas's sanitiser (Jsoup, Safelist.none) escaped it: `&` becomes `&amp;`, `<` and
 * `>` become `&lt;`/`&gt;`. A text that fits before escaping may not fit the column after.
 */
export function storedLength(text: string): number {
  let n = text.length;
  for (const c of text)
    if (c === '&') n += 4;
    else if (c === '<' || c === '>') n += 3;
  return n;
}

/** Cuts `text` so its stored length is at most `max`, ending in an ellipsis when cut. */
export function fitStored(text: string, max: number): string {
  if (storedLength(text) <= max) return text;
  let out = '';
  let used = 0;
  for (const c of text) {
    const cost = storedLength(c);
    if (used + cost > max - 1) break;
    out += c;
    used += cost;
  }
  return `${out}…`;
}

/** The description sent with a create: the text, cut to fit, then the marker on its own line. */
export function describe(text: string, key: string): string {
  const tag = marker(key);
  return `${fitStored(text, MAX_DESCRIPTION - tag.length - 2)}\n\n${tag}`;
}

export function statusFilter(statuses: readonly Status[]): FilterField {
  return { field: 'status', operation: 'in', values: [...statuses], enumName: 'STATUS' };
}

export function assetFilter(assetId: number): FilterField {
  return { field: 'asset', operation: 'eq', value: assetId };
}

/** Newest first: an order that exists is most likely recent. */
export const DEFAULT_PAGE: SearchPage = {
  pageNum: 0,
  pageSize: 50,
  sortField: 'id',
  direction: 'DESC',
};

/** The search dedup runs before every create: the asset's unfinished orders. */
export function unfinishedOrdersOf(assetId: number): FilterField[] {
  return [assetFilter(assetId), statusFilter(UNFINISHED)];
}
