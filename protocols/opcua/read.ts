import {
  AttributeIds,
  DataType,
  resolveNodeId,
  type ClientSession,
  type NodeId,
  type ReferenceDescription,
} from 'node-opcua-client';
import { errorMessage } from '../../core/errors.js';
import type { Quality, TagValue } from '../types.js';
import { resolveBrowsePath } from './browse.js';
import type { NodeRef } from './node-ref.js';
import { qualityOf } from './status.js';
import { fromVariant } from './values.js';

export interface ReadRow {
  /** As the user wrote it. */
  node: string;
  value: TagValue | null;
  quality: Quality;
  reason?: string;
  /** Built-in type of the value. */
  type?: string;
  /** Source timestamp, ISO 8601. */
  sourceTime?: string;
}

/** Reads the Value of each node (node ids or browse paths) in one Read request. */
export async function readRefs(
  session: ClientSession,
  labels: string[],
  refs: NodeRef[],
): Promise<ReadRow[]> {
  const cache = new Map<string, Promise<ReferenceDescription[]>>();
  const rows: ReadRow[] = [];
  const toRead: { index: number; nodeId: NodeId }[] = [];
  for (const [i, ref] of refs.entries()) {
    try {
      const nodeId =
        ref.kind === 'nodeId'
          ? resolveNodeId(ref.nodeId)
          : await resolveBrowsePath(session, ref.elements, cache);
      toRead.push({ index: i, nodeId });
      rows.push({ node: labels[i]!, value: null, quality: 'bad' });
    } catch (err) {
      rows.push({ node: labels[i]!, value: null, quality: 'bad', reason: errorMessage(err) });
    }
  }
  const values = await session.read(
    toRead.map((r) => ({ nodeId: r.nodeId, attributeId: AttributeIds.Value })),
  );
  toRead.forEach(({ index }, j) => {
    const dv = values[j]!;
    const status = qualityOf(dv.statusCode);
    const converted = fromVariant(dv.value.dataType, dv.value.value, dv.value.arrayType);
    const row: ReadRow = {
      node: labels[index]!,
      value: status.quality === 'bad' ? null : converted.value,
      quality: converted.value === null ? 'bad' : status.quality,
      type: DataType[dv.value.dataType],
    };
    const reason = status.reason ?? converted.reason;
    if (reason) row.reason = reason;
    if (dv.sourceTimestamp) row.sourceTime = dv.sourceTimestamp.toISOString();
    rows[index] = row;
  });
  return rows;
}
