// Runs the Modbus golden cases of testcases/<case>/ (README.md, "Golden cases"): for each, the
// tags resolve and plan into the expected requests, the request frames are that plan on the wire,
// and the response frames decode to the expected values, through the real planner, PDU and codec.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AREAS, type Area } from './address.js';
import { decodeValue, registerCount, type ByteOrder } from './codec.js';
import {
  decodeRequest,
  encodeBitsResponse,
  encodeRegistersResponse,
  encodeTcpFrame,
  splitTcpFrames,
} from './pdu.js';
import { DEFAULT_PLAN_OPTIONS, planReads, type ReadRequest } from './planner.js';
import { resolveTag } from './tag-spec.js';

const TESTCASES = join(dirname(fileURLToPath(import.meta.url)), 'testcases');

/** tags.yaml: one device of an agent config (only the fields that decide plan and values). */
interface Device {
  unitId?: number;
  byteOrder?: ByteOrder;
  maxGap?: number;
  maxRegistersPerRead?: number;
  maxBitsPerRead?: number;
  tags: { name: string; address: string | number; type?: string; byteOrder?: ByteOrder }[];
}

/** plan.json: the read requests, in order, and each tag's index in its request's response. */
interface PlannedRead {
  fc: number;
  area: Area;
  start: number;
  count: number;
  tags: Record<string, number>;
}

type Spec = ReturnType<typeof resolveTag>;

/**
 * frames.hex: `>` starts a request ADU, `<` its response ADU (Modbus TCP: MBAP header and PDU),
 * in hex; spaces are ignored, a line without a marker continues the frame above, `#` comments.
 */
function readFrames(text: string): { request: Buffer; response: Buffer }[] {
  const frames: { kind: '>' | '<'; hex: string }[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    if (line[0] === '>' || line[0] === '<') frames.push({ kind: line[0], hex: line.slice(1) });
    else if (frames.length > 0) frames[frames.length - 1]!.hex += line;
    else throw new Error(`frames.hex: "${line}" before the first > or <`);
  }
  const bytes = (hex: string) => {
    const clean = hex.replace(/\s+/g, '');
    if (!/^([0-9a-fA-F]{2})+$/.test(clean)) throw new Error(`frames.hex: not hex bytes: ${hex}`);
    return Buffer.from(clean, 'hex');
  };
  const pairs: { request: Buffer; response: Buffer }[] = [];
  for (let i = 0; i < frames.length; i += 2) {
    const [request, response] = [frames[i]!, frames[i + 1]];
    if (request.kind !== '>' || response?.kind !== '<')
      throw new Error('frames.hex: frames must come in pairs, a > request then its < response');
    pairs.push({ request: bytes(request.hex), response: bytes(response.hex) });
  }
  return pairs;
}

/** One complete MBAP frame and nothing else. */
function oneFrame(adu: Buffer) {
  const { frames, rest } = splitTcpFrames(adu);
  expect(frames).toHaveLength(1);
  expect(rest).toHaveLength(0);
  return frames[0]!;
}

/** The data of a read response: bits LSB first (spec 6.1/6.2) or big-endian registers. */
function responseData(response: Buffer, request: ReadRequest<Spec>): boolean[] | number[] {
  const { transactionId, unitId, pdu } = oneFrame(response);
  const { bits, readFc } = AREAS[request.area];
  const byteCount = bits ? Math.ceil(request.count / 8) : request.count * 2;
  expect(pdu[0], 'function code').toBe(readFc);
  expect(pdu[1], 'byte count').toBe(byteCount);
  expect(pdu.length, 'PDU length').toBe(2 + byteCount);
  const data = bits
    ? Array.from({ length: request.count }, (_, i) => ((pdu[2 + (i >> 3)]! >> (i & 7)) & 1) === 1)
    : Array.from({ length: request.count }, (_, i) => pdu.readUInt16BE(2 + i * 2));
  // The simulators' encoder gives the same frame back: the data is read as pdu.ts writes it,
  // and the frame is well formed (MBAP length right, unused bits of the last byte zero).
  const encoded = bits
    ? encodeBitsResponse(readFc, data as boolean[])
    : encodeRegistersResponse(readFc, data as number[]);
  expect(
    encodeTcpFrame(transactionId, unitId, encoded).equals(response),
    'response frame re-encoded by pdu.ts',
  ).toBe(true);
  return data;
}

const cases = readdirSync(TESTCASES, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

it('finds the golden cases', () => {
  expect(cases.length).toBeGreaterThanOrEqual(8);
});

describe.each(cases)('golden case %s', (name) => {
  const file = (f: string) => readFileSync(join(TESTCASES, name, f), 'utf8');
  const device = parse(file('tags.yaml')) as Device;
  const expectedPlan = JSON.parse(file('plan.json')) as PlannedRead[];
  const frames = readFrames(file('frames.hex'));
  const expectedValues = JSON.parse(file('values.json')) as Record<string, unknown>;
  const unitId = device.unitId ?? 1;

  // As the device source plans: bits are one item each, registers as many as the value needs.
  const specs = device.tags.map((t) => resolveTag(t.name, t, device.byteOrder ?? 'ABCD'));
  const registers = device.maxRegistersPerRead;
  const bits = device.maxBitsPerRead;
  const plan = planReads(
    specs.map((s) => ({
      key: s,
      area: s.address.area,
      offset: s.address.offset,
      count: AREAS[s.address.area].bits ? 1 : registerCount(s.format),
    })),
    {
      maxGap: device.maxGap ?? DEFAULT_PLAN_OPTIONS.maxGap,
      maxPerRead: { hr: registers, ir: registers, coil: bits, di: bits },
    },
  );

  it('plans the expected read requests', () => {
    expect(
      plan.map((r) => ({
        fc: AREAS[r.area].readFc,
        area: r.area,
        start: r.start,
        count: r.count,
        tags: Object.fromEntries(r.items.map((i) => [i.key.id, i.index])),
      })),
    ).toEqual(expectedPlan);
  });

  it('has one request frame per planned request, carrying that request', () => {
    expect(frames).toHaveLength(plan.length);
    frames.forEach(({ request }, i) => {
      const frame = oneFrame(request);
      expect(frame.unitId).toBe(unitId);
      const { area, start, count } = plan[i]!;
      expect(decodeRequest(frame.pdu)).toEqual({
        kind: 'read',
        fc: AREAS[area].readFc,
        area,
        start,
        count,
      });
    });
  });

  it('decodes the response frames to the expected values', () => {
    const values: Record<string, unknown> = {};
    frames.forEach(({ request, response }, i) => {
      const r = plan[i]!;
      const frame = oneFrame(response);
      expect(frame.transactionId).toBe(oneFrame(request).transactionId);
      expect(frame.unitId).toBe(unitId);
      const data = responseData(response, r);
      for (const item of r.items) {
        values[item.key.id] = AREAS[r.area].bits
          ? data[item.index]
          : decodeValue(data as number[], item.index, item.key.format);
      }
    });
    expect(values).toEqual(expectedValues);
  });
});
