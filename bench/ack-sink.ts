import { createServer, type Server, type Socket } from 'node:net';
import { MqttFramer } from './mqtt-packets.js';

/**
 * A minimal MQTT 3.1.1/5 server for measuring the agent alone (`BENCH_DELIVERY=sink`): it
 * answers CONNECT, SUBSCRIBE and PINGREQ, acknowledges every QoS 1 PUBLISH with one write of
 * PUBACKs per socket read, forwards nothing and counts what it took in. Mosquitto 2.0 answers
 * each QoS 1 PUBLISH with a write of its own and, single-threaded, needs about 19 µs per message
 * on this VM: at 100,000 messages/s that is two cores, so with it the broker, not the agent, is
 * measured. Not a broker: no routing, no retained messages, no sessions.
 */
export class AckSink {
  messages = 0;
  samples = 0;
  lastMessageAt = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly asset: boolean,
    private readonly prefix: string,
  ) {}

  /** Counts the samples of messages whose topic starts with `prefix` (not the agent's status). */
  static async start(asset: boolean, prefix: string): Promise<AckSink> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const sink = new AckSink(server, port, asset, prefix);
    server.on('connection', (socket) => sink.serve(socket));
    return sink;
  }

  /** Waits until nothing arrived for `quietMs` (at most `maxMs`). */
  async settle(quietMs = 700, maxMs = 20_000): Promise<void> {
    const deadline = Date.now() + maxMs;
    while (Date.now() < deadline && Date.now() - this.lastMessageAt < quietMs)
      await new Promise((r) => setTimeout(r, 100));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let v5 = false;
    let replies: number[] = [];
    const framer = new MqttFramer((first, buf, from, to) => {
      switch (first >> 4) {
        case 1: {
          // CONNECT: protocol name (2 + 4 bytes), then the level.
          v5 = buf[from + 6] === 5;
          replies.push(...(v5 ? [0x20, 3, 0, 0, 0] : [0x20, 2, 0, 0]));
          break;
        }
        case 3: {
          const topicEnd = from + 2 + buf.readUInt16BE(from);
          const qos = (first >> 1) & 3;
          if (qos > 0) replies.push(0x40, 2, buf[topicEnd]!, buf[topicEnd + 1]!);
          if (buf.toString('latin1', from + 2, from + 2 + this.prefix.length) !== this.prefix)
            break;
          this.messages += 1;
          this.lastMessageAt = Date.now();
          if (!this.asset) {
            this.samples += 1;
            break;
          }
          let body = topicEnd + (qos > 0 ? 2 : 0);
          if (v5) body += 1 + buf[body]!; // property length (short: the agent sends none)
          const v = (JSON.parse(buf.toString('utf8', body, to)) as { v: object }).v;
          this.samples += Object.keys(v).length;
          break;
        }
        case 8: {
          // SUBSCRIBE: grant each filter at QoS 1.
          const id = [buf[from]!, buf[from + 1]!];
          let at = from + 2 + (v5 ? 1 + buf[from + 2]! : 0);
          const granted: number[] = [];
          while (at < to) {
            at += 2 + buf.readUInt16BE(at) + 1;
            granted.push(1);
          }
          const body = [...id, ...(v5 ? [0] : []), ...granted];
          replies.push(0x90, body.length, ...body);
          break;
        }
        case 12:
          replies.push(0xd0, 0);
          break;
        case 14:
          socket.end();
          break;
      }
    });
    socket.on('data', (chunk: Buffer) => {
      framer.push(chunk);
      if (replies.length === 0) return;
      socket.write(Buffer.from(replies));
      replies = [];
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  }
}
