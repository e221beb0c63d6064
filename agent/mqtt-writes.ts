import type { IClientPublishOptions, IPublishPacket, MqttClient } from 'mqtt';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { nodeTopic, ROOT } from '../protocols/mqtt/topics.js';
import type { WriteRequest, WriteResult, WriteService } from './write-service.js';

/** Who a request is from when neither its payload nor its user properties say. */
export const DEFAULT_REQUESTER = 'mqtt';

type Decoded =
  { ok: true; value: unknown; id?: string; by?: string } | { ok: false; reason: string };

/**
 * The MQTT side of writes, per ARCHITECTURE.md:
 *
 *   request  factorylm/<site>/_nodes/<node>/write/<asset>/<tag>
 *            {"v": 42.5, "id": "req-17", "by": "alice"}, or a bare JSON value: 42.5, true, "on"
 *   result   factorylm/<site>/_nodes/<node>/write-result/<asset>/<tag>   QoS 1, not retained
 *            the WriteResult as JSON: {"ok": true, "ref": "conveyor1/DO_00", "id": "req-17",
 *            "value": true, "raw": true, "by": "alice", "ts": …} or with "ok": false and "reason"
 *
 * MQTT 5: the result always goes to the write-result topic, so every observer (dashboards, an
 * audit trail) sees every outcome, and also to the request's response topic when it names one,
 * so a requester can wait on a topic of its own; both carry the request's correlation data.
 * Who asks is the payload's "by", else the user property `by`, else "mqtt": self-declared, so
 * who may write at all is for the broker's ACL on the write topics to decide.
 */
export class MqttWriteHandler {
  private readonly prefix: string;

  constructor(
    private readonly site: string,
    private readonly node: string,
    private readonly service: WriteService,
    private readonly log: Logger,
  ) {
    this.prefix = `${nodeTopic(site, node, 'write')}/`;
  }

  /** The subscription: every tag of every asset on this node. */
  get filter(): string {
    return `${this.prefix}+/+`;
  }

  resultTopic(asset: string, tag: string): string {
    return nodeTopic(this.site, this.node, 'write-result', asset, tag);
  }

  attach(client: MqttClient): void {
    const subscribe = () =>
      client.subscribe(this.filter, { qos: 1 }, (err, granted) => {
        // mqtt.js 5 reports a refused SUBACK (0x80) as an error, older versions as qos 128.
        if (err || granted?.some((g) => g.qos === 128))
          this.log.error(
            { topic: this.filter, ...(err ? { err: errorMessage(err) } : {}) },
            'could not subscribe to write requests: no writes will arrive; check the broker ACL for this node',
          );
        else this.log.info({ topic: this.filter }, 'accepting write requests');
      });
    client.on('connect', subscribe);
    if (client.connected) subscribe();
    client.on('message', (topic, payload, packet) => {
      if (!topic.startsWith(this.prefix)) return;
      this.handle(client, topic, payload, packet).catch((err: unknown) =>
        this.log.error({ topic, err: errorMessage(err) }, 'write request handler failed'),
      );
    });
  }

  private async handle(
    client: MqttClient,
    topic: string,
    payload: Buffer,
    packet: IPublishPacket,
  ): Promise<void> {
    const levels = topic.slice(this.prefix.length).split('/');
    if (levels.length !== 2) return;
    const [asset, tag] = levels as [string, string];
    const ref = `${asset}/${tag}`;
    // How a retained request is cleared; it asks for nothing.
    if (payload.length === 0) return;
    const props = packet.properties ?? {};
    const decoded = decodePayload(payload);
    // An empty name is no name.
    const by =
      (decoded.ok && decoded.by) || userProperty(props.userProperties, 'by') || DEFAULT_REQUESTER;
    const id = decoded.ok ? decoded.id : undefined;
    const responseProblem = props.responseTopic && responseTopicProblem(props.responseTopic);
    let result: WriteResult;
    if (!decoded.ok) result = this.service.refuse({ ref, by }, decoded.reason);
    else if (packet.retain) {
      // A retained request would be written again on every reconnect of this agent.
      result = this.service.refuse(
        { ref, by, id, value: decoded.value },
        'retained write requests are never executed: publish the request without retain, and clear the retained one with an empty retained message',
      );
    } else if (responseProblem)
      result = this.service.refuse({ ref, by, id, value: decoded.value }, responseProblem);
    else {
      const request: WriteRequest = { ref, value: decoded.value, by };
      if (id !== undefined) request.id = id;
      result = await this.service.request(request);
    }
    const body = JSON.stringify(result);
    const options: IClientPublishOptions = { qos: 1, retain: false };
    if (props.correlationData) options.properties = { correlationData: props.correlationData };
    const targets = [this.resultTopic(asset, tag)];
    if (props.responseTopic && !responseProblem && props.responseTopic !== targets[0])
      targets.push(props.responseTopic);
    for (const target of targets) {
      client.publish(target, body, options, (err) => {
        if (err)
          this.log.warn(
            { topic: target, ref, id, err: errorMessage(err) },
            'could not publish a write result',
          );
      });
    }
  }
}

function decodePayload(payload: Buffer): Decoded {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `payload is not JSON: ${errorMessage(err)}` };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    return { ok: true, value: parsed };
  const { v, id, by } = parsed as Record<string, unknown>;
  if (id !== undefined && typeof id !== 'string')
    return { ok: false, reason: 'payload "id" must be a string' };
  if (by !== undefined && typeof by !== 'string')
    return { ok: false, reason: 'payload "by" must be a string naming who writes' };
  if (v === undefined)
    return {
      ok: false,
      reason:
        'payload has no "v": send {"v": <value>, "id"?: "…", "by"?: "…"} or a bare JSON value',
    };
  return { ok: true, value: v, id, by };
}

function userProperty(
  props: Record<string, string | string[]> | undefined,
  name: string,
): string | undefined {
  const value = props?.[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * A response topic makes the agent publish where the requester says; the unified namespace
 * (`factorylm/…`) is data others trust, so a reply may not land there.
 */
function responseTopicProblem(topic: string): string | undefined {
  if (/[+#]/.test(topic) || topic.startsWith('$'))
    return `response topic "${topic}" is not a topic one can publish to`;
  if (topic === ROOT || topic.startsWith(`${ROOT}/`))
    return `response topic "${topic}" is inside ${ROOT}/, where replies could pass for plant data; use a topic of the requester's own`;
  return undefined;
}
