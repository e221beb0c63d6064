import type { IPublishPacket, MqttClient, Packet } from 'mqtt';

/** One QoS 1 message whose PUBACK waits until its points are durable. */
export interface AckTicket {
  readonly messageId: number;
  /** The connection it arrived on; a PUBACK is only valid there. */
  readonly connection: number;
  durable: boolean;
  /** mqtt.js's PUBACK for it, held back until the points are durable. */
  puback?: Packet;
}

type SendPacket = (packet: Packet, cb?: (err?: Error) => void, ...rest: unknown[]) => void;

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
 * client's `_sendPacket`, and sends it later. That method is private to mqtt.js 5.x:
 * `gateway/spool-acks.test.ts` runs against a real broker to catch an upgrade that changes it.
 */
export class AckGate {
  private connection = 0;
  private readonly held = new Map<number, AckTicket>();
  private readonly send: SendPacket;
  private acked = 0;
  private redelivered = 0;

  constructor(private readonly client: MqttClient) {
    const target = client as unknown as { _sendPacket?: SendPacket };
    const original = target._sendPacket;
    if (typeof original !== 'function')
      throw new Error(
        'this mqtt.js has no _sendPacket, so the gateway cannot hold PUBACKs until points are durable; use mqtt 5.x',
      );
    const send: SendPacket = original.bind(client);
    this.send = send;
    target._sendPacket = (packet, cb, ...rest) => {
      if (packet.cmd === 'puback' && packet.messageId !== undefined) {
        const ticket = this.held.get(packet.messageId);
        if (ticket && !ticket.durable) {
          ticket.puback = packet;
          // Tell mqtt.js it went out, so it reads the next message.
          cb?.();
          return;
        }
        if (ticket) this.held.delete(packet.messageId);
        this.acked += 1;
      }
      send(packet, cb, ...rest);
    };
    client.on('close', () => {
      this.connection += 1;
      this.redelivered += this.held.size;
      this.held.clear();
    });
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

  /** The tickets' points are durable: send their PUBACKs (or let them through when mqtt.js makes them). */
  release(tickets: readonly AckTicket[]): void {
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
      this.send(ticket.puback);
    }
  }
}
