import type { IPublishPacket, MqttClient } from 'mqtt';
import {
  interceptSentPackets,
  isPlainPuback,
  writePlainPubacks,
  type PubackPacket,
  type SendPacket,
  type SentCallback,
} from '../protocols/mqtt/client-internals.js';

/** One QoS 1 message whose PUBACK waits until its points are durable. */
export interface AckTicket {
  readonly messageId: number;
  /** The connection it arrived on; a PUBACK is only valid there. */
  readonly connection: number;
  durable: boolean;
  /** mqtt.js's PUBACK for it, held back until the points are durable. */
  puback?: PubackPacket;
}

export interface AckStats {
  /** Messages received whose PUBACK is held (points not yet in InfluxDB or the spool). */
  held: number;
  /** PUBACKs sent after their points became durable. */
  acked: number;
  /**
   * Messages whose connection closed before their points were durable: the broker redelivers
   * them to the persistent session, so their points may be written twice (same series and
   * timestamp: InfluxDB keeps one).
   */
  redelivered: number;
}

/**
 * Holds back each QoS 1 message's PUBACK until the gateway says its points are durable (written
 * to InfluxDB or committed to the spool). Until then the broker keeps the message: if the gateway
 * dies, a persistent session gets it again.
 *
 * Why not mqtt.js's `customHandleAcks` (or `handleMessage`): mqtt.js handles incoming packets one
 * at a time and reads the next only after that callback, so delaying it until a batch is durable
 * lets one message through per batch (measured: 40 messages in 2 s with a 50 ms delay). Instead
 * mqtt.js acknowledges at once as usual and this class catches the PUBACK on its way out, in the
 * client's `_sendPacket`, and sends it later. That method is private to mqtt.js 5.x, so it is
 * reached only through `protocols/mqtt/client-internals.ts`, whose contract test (and
 * `gateway/spool-acks.test.ts`) runs against a real broker to catch an upgrade that changes it.
 */
export class AckGate {
  private connection = 0;
  private readonly held = new Map<number, AckTicket>();
  private readonly send: SendPacket;
  private acked = 0;
  private redelivered = 0;

  /** mqtt.js's "sent" callback of the PUBACK that stopped reading, while it is stopped. */
  private paused?: SentCallback;

  /**
   * `readMore` says whether to read the next message now. Receive Maximum alone does not bound
   * memory: Mosquitto 2.0.11 stops counting its window once PUBACKs flow, and one asset batch
   * or Sparkplug message carries thousands of points.
   */
  constructor(
    private readonly client: MqttClient,
    private readonly readMore: () => boolean = () => true,
  ) {
    this.send = interceptSentPackets(client, (packet, cb) => {
      if (packet.cmd !== 'puback' || packet.messageId === undefined) return false;
      const ticket = this.held.get(packet.messageId);
      if (ticket && !ticket.durable) {
        ticket.puback = packet;
        // Telling mqtt.js it went out makes it read the next message; while too much waits
        // to be written, that waits, so the socket stops being read and the broker queues.
        if (this.readMore()) cb?.();
        else this.paused = cb ?? (() => undefined);
        return true;
      }
      if (ticket) this.held.delete(packet.messageId);
      this.acked += 1;
      return false;
    });
    client.on('close', () => {
      this.connection += 1;
      this.redelivered += this.held.size;
      this.held.clear();
      this.resume(true);
    });
  }

  /** Reads on if reading was stopped and there is room again (or the connection is gone). */
  resume(always = false): void {
    const paused = this.paused;
    if (!paused || (!always && !this.readMore())) return;
    this.paused = undefined;
    // Not from inside the sink's settle: mqtt.js handles the next messages synchronously.
    setImmediate(paused);
  }

  get stats(): AckStats {
    return { held: this.held.size, acked: this.acked, redelivered: this.redelivered };
  }

  /** Starts holding the acknowledgement of `packet`; none for QoS 0 (it has no PUBACK). */
  begin(packet: IPublishPacket): AckTicket | undefined {
    if (packet.qos !== 1 || packet.messageId === undefined) return undefined;
    const ticket: AckTicket = {
      messageId: packet.messageId,
      connection: this.connection,
      durable: false,
    };
    this.held.set(packet.messageId, ticket);
    return ticket;
  }

  /**
   * The tickets' points are durable: send their PUBACKs (or let them through when mqtt.js makes
   * them). Plain ones go out as one socket write: through mqtt.js each is several small writes,
   * and a batch of thousands queued that way held over 100 MB in the socket's buffer.
   */
  release(tickets: readonly AckTicket[]): void {
    const plain: number[] = [];
    for (const ticket of tickets) {
      ticket.durable = true;
      // From a closed connection: the broker redelivers it; counted at the close.
      if (ticket.connection !== this.connection || !ticket.puback) continue;
      this.held.delete(ticket.messageId);
      if (!this.client.connected) {
        this.redelivered += 1;
        continue;
      }
      this.acked += 1;
      if (isPlainPuback(ticket.puback)) plain.push(ticket.messageId);
      else this.send(ticket.puback);
    }
    writePlainPubacks(this.client, plain);
    this.resume();
  }
}
