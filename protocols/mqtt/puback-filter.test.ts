import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { PubackFilter } from './puback-filter.js';

const v5 = { protocolVersion: 5 } as const;
const encode = (packet: mqttPacket.Packet) => mqttPacket.generate(packet, v5);
/** A PUBACK as brokers write it: id, then (MQTT 5) reason code and property length if given. */
const puback = (id: number, ...rest: number[]) =>
  Buffer.from([0x40, 2 + rest.length, id >> 8, id & 0xff, ...rest]);

/** Packets as a broker sends them; `ours` are the successful PUBACKs the filter must take out. */
const packets: { name: string; bytes: Buffer; ours?: number }[] = [
  { name: 'CONNACK', bytes: encode({ cmd: 'connack', reasonCode: 0, sessionPresent: false }) },
  { name: 'PUBACK 1 (ours)', bytes: puback(1), ours: 1 },
  // A body holding the bytes of a PUBACK of ours: bodies are skipped, never read.
  {
    name: 'PUBLISH whose body looks like PUBACKs',
    bytes: encode({
      cmd: 'publish',
      topic: 'w',
      payload: Buffer.from([0x40, 2, 0, 1, 0x40, 2, 0, 7]),
      qos: 0,
      retain: false,
      dup: false,
    }),
  },
  { name: 'PUBACK 2 (mqtt.js own)', bytes: puback(2) },
  { name: 'MQTT 5 PUBACK 7, no matching subscribers (ours)', bytes: puback(7, 0x10), ours: 7 },
  { name: 'MQTT 5 PUBACK 7, not authorized (left to mqtt.js)', bytes: puback(7, 0x87) },
  {
    name: 'MQTT 5 PUBACK 1 with a reason string (left to mqtt.js)',
    bytes: encode({
      cmd: 'puback',
      messageId: 1,
      reasonCode: 0,
      properties: { reasonString: 'x' },
    }),
  },
  { name: 'MQTT 5 PUBACK 4, success, empty properties (ours)', bytes: puback(4, 0, 0), ours: 4 },
  {
    name: 'PUBLISH of 300 bytes (two-byte length)',
    bytes: encode({
      cmd: 'publish',
      topic: 'big',
      payload: Buffer.alloc(300, 0x40),
      qos: 1,
      messageId: 9,
      retain: false,
      dup: false,
    }),
  },
  { name: 'PUBACK 65535 (ours)', bytes: puback(65535), ours: 65535 },
  { name: 'SUBACK', bytes: encode({ cmd: 'suback', messageId: 3, granted: [1] }) },
  { name: 'PINGRESP', bytes: encode({ cmd: 'pingresp' }) },
  { name: 'PUBACK 8 (ours)', bytes: puback(8), ours: 8 },
];

const ours = new Set(packets.flatMap((p) => (p.ours ? [p.ours] : [])));
const stream = Buffer.concat(packets.map((p) => p.bytes));
const expected = Buffer.concat(packets.filter((p) => !p.ours).map((p) => p.bytes));
const expectedIds = packets.flatMap((p) => (p.ours ? [p.ours] : []));

function run(chunks: Buffer[]): { out: Buffer; taken: number[] } {
  const taken: number[] = [];
  const filter = new PubackFilter((id) => {
    if (!ours.has(id)) return false;
    taken.push(id);
    return true;
  });
  const out: Buffer[] = [];
  for (const c of chunks) {
    const passed = filter.push(c);
    if (passed) {
      expect(passed.length).toBeGreaterThan(0);
      out.push(passed);
    }
  }
  return { out: Buffer.concat(out), taken };
}

describe('PubackFilter', () => {
  it('takes out the PUBACKs claimed, passes every other byte in order', () => {
    const { out, taken } = run([stream]);
    expect(taken).toEqual(expectedIds);
    expect(out).toEqual(expected);
    // What is left is what mqtt.js's parser reads: whole packets, none of ours.
    const parsed: mqttPacket.Packet[] = [];
    const parser = mqttPacket.parser(v5);
    parser.on('packet', (p) => parsed.push(p));
    parser.parse(out);
    expect(parsed.map((p) => p.cmd)).toEqual([
      'connack',
      'publish',
      'puback',
      'puback',
      'puback',
      'publish',
      'suback',
      'pingresp',
    ]);
  });

  it('gives the same at every cut of the stream into two chunks', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const { out, taken } = run([stream.subarray(0, cut), stream.subarray(cut)]);
      expect({ cut, taken }).toEqual({ cut, taken: expectedIds });
      expect(out.equals(expected), `cut at byte ${cut}`).toBe(true);
    }
  });

  it('gives the same one byte at a time', () => {
    const { out, taken } = run([...stream].map((b) => Buffer.from([b])));
    expect(taken).toEqual(expectedIds);
    expect(out).toEqual(expected);
  });

  it('hands on the very chunk when it takes nothing', () => {
    const chunk = puback(2);
    expect(new PubackFilter(() => false).push(chunk)).toBe(chunk);
  });

  it('turns itself off at a malformed length and passes the bytes on for mqtt.js to report', () => {
    const filter = new PubackFilter(() => true);
    const ack = puback(1);
    const bad = Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(filter.push(Buffer.concat([ack, bad]))).toEqual(bad);
    expect(filter.push(ack)).toEqual(ack);
  });
});
