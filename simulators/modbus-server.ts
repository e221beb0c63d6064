import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { errorMessage } from '../core/errors.js';
import { listenOn } from '../core/listen.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { Area } from '../protocols/modbus/address.js';
import {
  decodeRequest,
  encodeBitsResponse,
  encodeException,
  encodeRegistersResponse,
  encodeTcpFrame,
  encodeWriteResponse,
  ExceptionCode,
  ModbusException,
  splitTcpFrames,
  type Request,
} from '../protocols/modbus/pdu.js';
import { encodeRtuFrame, splitRtuRequests } from '../protocols/modbus/rtu.js';
import { FaultInjector } from './faults.js';

/** What a simulated device exposes. Methods throw ModbusException for addresses it does not map. */
export interface ModbusDevice {
  readBits(area: Extract<Area, 'coil' | 'di'>, start: number, count: number): boolean[];
  readRegisters(area: Extract<Area, 'hr' | 'ir'>, start: number, count: number): number[];
  writeBits(start: number, values: boolean[]): void;
  writeRegisters(start: number, values: number[]): void;
}

export interface ServerStats {
  connections: number;
  requests: number;
  exceptions: number;
  framingErrors: number;
  /** Most delayed responses pending at once: how many requests a client had in flight. */
  maxPending: number;
}

export type Reply =
  | { kind: 'pdu'; pdu: Buffer; delayMs: number }
  | { kind: 'silence' }
  | { kind: 'drop' }
  | { kind: 'garbage'; bytes: Buffer; delayMs: number };

/** Answers one request PDU from a device; pure apart from what the device does. */
export function handleRequest(device: ModbusDevice, request: Request): Buffer {
  switch (request.kind) {
    case 'read':
      if (request.area === 'coil' || request.area === 'di') {
        return encodeBitsResponse(
          request.fc,
          device.readBits(request.area, request.start, request.count),
        );
      }
      return encodeRegistersResponse(
        request.fc,
        device.readRegisters(request.area, request.start, request.count),
      );
    case 'write-bits':
      device.writeBits(request.start, request.values);
      return encodeWriteResponse(request);
    case 'write-registers':
      device.writeRegisters(request.start, request.values);
      return encodeWriteResponse(request);
  }
}

/** The framing-independent half of a simulator: unit ids to devices, faults, counters. */
export class ModbusResponder {
  readonly stats: ServerStats = {
    connections: 0,
    requests: 0,
    exceptions: 0,
    framingErrors: 0,
    maxPending: 0,
  };

  constructor(
    readonly devices: Map<number, ModbusDevice>,
    readonly faults: FaultInjector = new FaultInjector(),
    private readonly log: Logger = silentLogger,
  ) {}

  reply(unitId: number, pdu: Buffer): Reply {
    this.stats.requests += 1;
    const fc = pdu[0] ?? 0;
    let request: Request | undefined;
    try {
      request = decodeRequest(pdu);
    } catch {
      // Decided below, after the fault plan had its say: a silent unit stays silent.
    }
    const decision = this.faults.decide(unitId, request);
    if (decision.kind === 'silence' || decision.kind === 'drop') return decision;
    if (decision.kind === 'garbage')
      return { kind: 'garbage', bytes: this.faults.garbage(), delayMs: decision.delayMs };
    if (decision.kind === 'exception') {
      this.stats.exceptions += 1;
      return { kind: 'pdu', pdu: encodeException(fc, decision.code), delayMs: decision.delayMs };
    }
    try {
      const device = this.devices.get(unitId);
      if (!device) throw new ModbusException(ExceptionCode.GatewayTargetFailed);
      if (!request) decodeRequest(pdu);
      return { kind: 'pdu', pdu: handleRequest(device, request!), delayMs: decision.delayMs };
    } catch (err) {
      this.stats.exceptions += 1;
      if (!(err instanceof ModbusException))
        this.log.error({ err: errorMessage(err) }, 'simulator bug while answering a request');
      const code = err instanceof ModbusException ? err.code : ExceptionCode.ServerDeviceFailure;
      return { kind: 'pdu', pdu: encodeException(fc, code), delayMs: decision.delayMs };
    }
  }
}

type Framing = 'tcp' | 'rtu';

/**
 * Serves a byte stream (TCP socket, serial port) with MBAP (`tcp`) or RTU framing. Returns
 * nothing; the stream's owner closes it. Garbage that breaks MBAP framing closes the stream,
 * as the spec requires; RTU resynchronises by skipping bytes, as a serial device does.
 */
export function serveStream(
  stream: Duplex,
  framing: Framing,
  responder: ModbusResponder,
  log: Logger,
): void {
  let pending: Buffer = Buffer.alloc(0);
  let delayed = 0;
  const send = (bytes: Buffer, delayMs: number) => {
    if (delayMs <= 0) {
      stream.write(bytes);
      return;
    }
    delayed += 1;
    responder.stats.maxPending = Math.max(responder.stats.maxPending, delayed);
    setTimeout(() => {
      delayed -= 1;
      if (!stream.destroyed) stream.write(bytes);
    }, delayMs);
  };
  const answer = (unitId: number, pdu: Buffer, frame: (pdu: Buffer) => Buffer): void => {
    const reply = responder.reply(unitId, pdu);
    if (reply.kind === 'silence') return;
    if (reply.kind === 'drop') {
      stream.destroy();
      return;
    }
    if (reply.kind === 'garbage') send(reply.bytes, reply.delayMs);
    else send(frame(reply.pdu), reply.delayMs);
  };
  stream.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    if (framing === 'tcp') {
      let split;
      try {
        split = splitTcpFrames(pending);
      } catch (err) {
        responder.stats.framingErrors += 1;
        log.warn({ err: errorMessage(err) }, 'garbage on Modbus TCP connection; closing it');
        stream.destroy();
        return;
      }
      pending = split.rest;
      for (const f of split.frames)
        answer(f.unitId, f.pdu, (pdu) => encodeTcpFrame(f.transactionId, f.unitId, pdu));
    } else {
      const split = splitRtuRequests(pending);
      if (split.skipped > 0) responder.stats.framingErrors += 1;
      pending = split.rest.length > 512 ? Buffer.alloc(0) : split.rest;
      // On a serial line, a unit nobody answers for stays silent; there is no gateway to say so.
      for (const f of split.frames) {
        if (responder.devices.has(f.unitId))
          answer(f.unitId, f.pdu, (pdu) => encodeRtuFrame(f.unitId, pdu));
      }
    }
  });
  stream.on('error', () => stream.destroy());
}

export interface ModbusServerOptions {
  host: string;
  /** 0 picks a free port; `listen()` returns the one bound. */
  port: number;
  /** `tcp`: Modbus TCP (MBAP). `rtu`: RTU frames over TCP, as serial-to-Ethernet gateways speak. */
  framing: Framing;
}

/** A TCP listener for simulators: any number of clients, pipelined requests. */
export class ModbusServer {
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly options: ModbusServerOptions,
    readonly responder: ModbusResponder,
    private readonly log: Logger = silentLogger,
  ) {}

  get stats(): ServerStats {
    return this.responder.stats;
  }

  async listen(): Promise<number> {
    const server = createServer((socket) => {
      this.responder.stats.connections += 1;
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('close', () => this.sockets.delete(socket));
      serveStream(socket, this.options.framing, this.responder, this.log);
    });
    this.server = server;
    const port = await listenOn(server, this.options.port, this.options.host);
    this.log.info(
      { host: this.options.host, port, framing: this.options.framing },
      'Modbus server listening',
    );
    return port;
  }

  /** Closes every client connection (they may reconnect), as a PLC reboot or a cable pull would. */
  dropConnections(): number {
    const n = this.sockets.size;
    for (const s of this.sockets) s.destroy();
    return n;
  }

  async close(): Promise<void> {
    this.dropConnections();
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
