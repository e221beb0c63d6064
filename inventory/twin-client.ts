import type { InventoryReport } from './report.js';
import { decodeReport } from './transport.js';

/**
 * The latest inventory report of every node, from a gateway's fleet twin
 * (`GET <gateway>/api/twin/reports`), each validated against the report schema.
 */
export async function reportsFromGateway(
  url: string,
  token: string | undefined,
): Promise<InventoryReport[]> {
  const res = await fetch(new URL('api/twin/reports', url.endsWith('/') ? url : url + '/'), {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { reports: unknown[] };
  return body.reports.map((r, i) => {
    const decoded = decodeReport(Buffer.from(JSON.stringify(r)));
    if (!decoded.ok) throw new Error(`${url}: report ${i}: ${decoded.detail}`);
    return decoded.value;
  });
}
