import { createServer, type Server, type Socket } from 'node:net';
import { errorMessage } from '../core/errors.js';
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

/** What a simulated device exposes. Methods throw ModbusException for addresses it does not map. */
export interface ModbusDevice {
  readBits(area: Extract<Area, 'coil' | 'di'>, start: number, count: number): boolean[];
  readRegisters(area: Extract<Area, 'hr' | 'ir'>, start: number, count: number): number[];
  writeBits(start: number, values: boolean[]): void;
  writeRegisters(start: number, values: number[]): void;
}

export interface ModbusTcpServerOptions {
  host: string;
  /** 0 picks a free port; `listen()` returns the one bound. */
  port: number;
  /** Devices by unit id. A request to another unit gets exception 11, as a gateway would answer. */
  devices: Map<number, ModbusDevice>;
}

export interface ServerStats {
  connections: number;
  requests: number;
  exceptions: number;
  framingErrors: number;
}

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

/** A Modbus TCP server for simulators: MBAP framing, pipelined requests, any number of clients. */
export class ModbusTcpServer {
  readonly stats: ServerStats = { connections: 0, requests: 0, exceptions: 0, framingErrors: 0 };
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly options: ModbusTcpServerOptions,
    private readonly log: Logger = silentLogger,
  ) {}

  async listen(): Promise<number> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : this.options.port;
    this.log.info({ host: this.options.host, port }, 'Modbus TCP server listening');
    return port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.stats.connections += 1;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let split;
      try {
        split = splitTcpFrames(pending);
      } catch (err) {
        this.stats.framingErrors += 1;
        this.log.warn(
          { remote: socket.remoteAddress, err: errorMessage(err) },
          'garbage on Modbus TCP connection; closing it',
        );
        socket.destroy();
        return;
      }
      pending = split.rest;
      const replies = split.frames.map((f) =>
        encodeTcpFrame(f.transactionId, f.unitId, this.respond(f.unitId, f.pdu)),
      );
      if (replies.length) socket.write(replies.length === 1 ? replies[0]! : Buffer.concat(replies));
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }

  private respond(unitId: number, pdu: Buffer): Buffer {
    this.stats.requests += 1;
    const fc = pdu[0] ?? 0;
    try {
      const device = this.options.devices.get(unitId);
      if (!device) throw new ModbusException(ExceptionCode.GatewayTargetFailed);
      return handleRequest(device, decodeRequest(pdu));
    } catch (err) {
      this.stats.exceptions += 1;
      const code = err instanceof ModbusException ? err.code : ExceptionCode.ServerDeviceFailure;
      if (!(err instanceof ModbusException))
        this.log.error({ err: errorMessage(err) }, 'simulator bug while answering a request');
      return encodeException(fc, code);
    }
  }
}
