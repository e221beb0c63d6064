/**
 * The bare Node floor of bench/floor.ts (issue 15): the footprint workload done by a process that
 * loads nothing but mqtt.js and modbus-serial (no project code, no config schema, no outbox, no
 * logger). Polls `devices` units × the synthetic layout (1,000 tags in 1,400 holding registers,
 * 5 tags in 7 registers: uint16, int16, float32, uint32, bool) every 100 ms, one TCP connection
 * per unit, and publishes one QoS 0 message per tag (`tag`) or one QoS 1 asset batch per device
 * and cycle (`asset`), the agent's topics and JSON bodies.
 *
 *   node dist/bench/floor-client.js <tag|asset> <simPort> <brokerPort> <devices> <tagsPerDevice>
 *
 * Prints `floor ready` once every device answered, then a JSON line of counters on SIGTERM.
 */
import mqtt from 'mqtt';
import modbusSerial from 'modbus-serial';

/** The CommonJS default export is the client class; its typings say otherwise. */
const ModbusRTU = modbusSerial as unknown as new () => {
  connectTCP(host: string, options: { port: number }): Promise<void>;
  setID(id: number): void;
  setTimeout(ms: number): void;
  readHoldingRegisters(start: number, count: number): Promise<{ buffer: Buffer }>;
};

const [mode = 'tag', simPort, brokerPort, devicesArg = '10', tagsArg = '1000'] =
  process.argv.slice(2);
const DEVICES = Number(devicesArg);
const TAGS = Number(tagsArg);
const POLL_MS = 100;
const MAX_REGISTERS = 125;
/** QoS 0: stop writing past this many bytes buffered until 'drain', as the agent does. */
const MAX_BUFFERED = 256 * 1024;
const TOPIC_ROOT = 'factorylm/bench/synthetic/line1';

/** Register offset and kind of each tag: the repeating pattern of 5 tags in 7 registers. */
const KINDS = ['uint16', 'int16', 'float32', 'uint32', 'bool'] as const;
const WIDTH = [1, 1, 2, 2, 1];
const kind = new Uint8Array(TAGS);
const offset = new Uint16Array(TAGS);
let registers = 0;
for (let i = 0; i < TAGS; i++) {
  kind[i] = i % 5;
  offset[i] = registers;
  registers += WIDTH[i % 5]!;
}
/** Reads of at most 125 registers that do not split a tag. */
const reads: { start: number; count: number }[] = [];
for (let i = 0; i < TAGS;) {
  const start = offset[i]!;
  let end = start;
  while (i < TAGS && offset[i]! + WIDTH[kind[i]!]! - start <= MAX_REGISTERS) {
    end = offset[i]! + WIDTH[kind[i]!]!;
    i++;
  }
  reads.push({ start, count: end - start });
}

const names = Array.from({ length: TAGS }, (_, i) => `t${String(i).padStart(5, '0')}`);
const keys = names.map((n) => `"${n}":`);

const counters = { cycles: 0, missedCycles: 0, samples: 0, messages: 0, errors: 0 };

const client = mqtt.connect(`mqtt://127.0.0.1:${brokerPort}`, {
  clientId: `floor-${process.pid}`,
  queueQoSZero: false,
  reconnectPeriod: 1000,
});
client.on('error', () => (counters.errors += 1));

function waitDrain(): Promise<void> {
  const stream = client.stream;
  if (!stream || stream.writableLength < MAX_BUFFERED) return Promise.resolve();
  return new Promise((resolve) => stream.once('drain', () => resolve()));
}

function decode(buf: Buffer, i: number): number | boolean {
  const at = offset[i]! * 2;
  switch (KINDS[kind[i]!]) {
    case 'uint16':
      return buf.readUInt16BE(at);
    case 'int16':
      return buf.readInt16BE(at);
    case 'float32':
      return buf.readFloatBE(at);
    case 'uint32':
      return buf.readUInt32BE(at);
    default:
      return (buf[at + 1]! & 1) === 1;
  }
}

async function device(unit: number, ready: () => void): Promise<void> {
  const modbus = new ModbusRTU();
  await modbus.connectTCP('127.0.0.1', { port: Number(simPort) });
  modbus.setID(unit);
  modbus.setTimeout(1000);
  const asset = `dev${unit}`;
  const topics = names.map((n) => `${TOPIC_ROOT}/${asset}/${n}`);
  const assetTopic = `${TOPIC_ROOT}/${asset}`;
  const image = Buffer.alloc(registers * 2);
  let first = true;
  let due = Date.now();
  for (;;) {
    try {
      for (const r of reads) {
        const res = await modbus.readHoldingRegisters(r.start, r.count);
        res.buffer.copy(image, r.start * 2);
      }
      const ts = Date.now();
      if (mode === 'tag') {
        for (let i = 0; i < TAGS; i++) {
          if (i % 500 === 0) await waitDrain();
          client.publish(topics[i]!, `{"v":${decode(image, i)},"ts":${ts},"q":"good"}`, {
            qos: 0,
          });
        }
        counters.messages += TAGS;
      } else {
        let body = `{"ts":${ts},"v":{`;
        for (let i = 0; i < TAGS; i++) body += (i === 0 ? '' : ',') + keys[i]! + decode(image, i);
        client.publish(assetTopic, body + '}}', { qos: 1 });
        counters.messages += 1;
      }
      counters.samples += TAGS;
      counters.cycles += 1;
    } catch {
      counters.errors += 1;
    }
    if (first) {
      first = false;
      ready();
    }
    due += POLL_MS;
    const now = Date.now();
    if (due < now) {
      const missed = Math.ceil((now - due) / POLL_MS);
      counters.missedCycles += missed;
      due += missed * POLL_MS;
    }
    await new Promise((r) => setTimeout(r, due - now));
  }
}

await new Promise<void>((resolve) => client.once('connect', () => resolve()));
let waiting = DEVICES;
for (let d = 1; d <= DEVICES; d++)
  void device(d, () => {
    if (--waiting === 0) console.log('floor ready');
  });
process.once('SIGTERM', () => {
  console.log(JSON.stringify({ floor: counters }));
  process.exit(0);
});
