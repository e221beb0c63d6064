/**
 * A plausible Allen-Bradley Micro 820 running a motor and a conveyor, with the plant's real
 * register map (ARCHITECTURE.md). Time advances only through `step()`, so tests can drive it
 * deterministically; randomness comes from a seeded generator.
 */
import { ExceptionCode, ModbusException } from '../../protocols/modbus/pdu.js';
import type { SteppingDevice } from '../runtime.js';

export const COIL_NAMES = [
  'motor_running',
  'motor_stopped',
  'fault_alarm',
  'conveyor_running',
  'sensor_1_active',
  'sensor_2_active',
  'e_stop_active',
  'DI_00',
  'DI_01',
  'DI_02',
  'DI_03',
  'DI_04',
  'DI_05',
  'DI_06',
  'DI_07',
  'DO_00',
  'DO_01',
  'DO_03',
] as const;

/** Holding registers from address 100 on. */
export const REGISTER_BASE = 100;
export const REGISTER_NAMES = [
  'motor_speed',
  'motor_current',
  'temperature',
  'pressure',
  'conveyor_speed',
  'error_code',
] as const;

export const WRITABLE_COILS: ReadonlySet<number> = new Set([0, 1, 2, 3, 4, 5, 6, 15, 16, 17]);

export const ErrorCode = {
  None: 0,
  MotorOverload: 1,
  TemperatureHigh: 2,
  ConveyorJam: 3,
  SensorFailure: 4,
  CommunicationLoss: 5,
} as const;

export const RATED_RPM = 1750;
const AMBIENT_C = 25;
const PART_SPACING_M = 2;
const BELT_M_PER_S = 0.5;

/** mulberry32: small, fast, seedable; plenty for plausible noise. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Snapshot {
  coils: boolean[];
  /** Registers 100..105 in order. */
  registers: number[];
}

export class Micro820Model implements SteppingDevice {
  private readonly random: () => number;
  private runCommand = true;
  private conveyorEnabled = true;
  private eStop = false;
  private errorCode: number = ErrorCode.None;
  private speed = 0;
  private temperature = AMBIENT_C;
  private beltPosition = 0;
  private elapsedS = 0;
  private outputs = [false, false, false];
  private forcedSensors: [boolean | undefined, boolean | undefined] = [undefined, undefined];
  private readonly coils = new Array<boolean>(COIL_NAMES.length).fill(false);
  private readonly registers = new Array<number>(REGISTER_NAMES.length).fill(0);

  constructor(seed = 820) {
    this.random = seeded(seed);
    this.refresh(0, 0);
  }

  /** Advances the machine by `dtMs` of simulated time. */
  step(dtMs: number): void {
    const dt = dtMs / 1000;
    this.elapsedS += dt;
    const running = this.motorRunning();
    const target = running ? RATED_RPM : 0;
    // Soft starter: ~2 s up to rated speed; coasts down twice as fast.
    const rate = running ? RATED_RPM / 2 : RATED_RPM;
    this.speed =
      target > this.speed
        ? Math.min(target, this.speed + rate * dt)
        : Math.max(target, this.speed - rate * dt);
    const fraction = this.speed / RATED_RPM;
    // Load wanders slowly between 50 % and 90 %: parts on the belt vary.
    const load = 0.7 + 0.2 * Math.sin(this.elapsedS / 37);
    const settle = AMBIENT_C + 40 * load * fraction;
    this.temperature += (settle - this.temperature) * Math.min(1, dt / 120);
    if (this.conveyorEnabled) this.beltPosition += BELT_M_PER_S * fraction * dt;
    this.refresh(fraction, load);
  }

  /** Simulates a fault: sets fault_alarm and error_code and trips the motor. */
  injectFault(code: number): void {
    if (!Number.isInteger(code) || code < 1 || code > 5)
      throw new RangeError(`error code must be 1..5, got ${code}`);
    this.errorCode = code;
    this.runCommand = false;
    this.refresh(this.speed / RATED_RPM, 0.7);
  }

  resetFault(): void {
    this.errorCode = ErrorCode.None;
    this.refresh(this.speed / RATED_RPM, 0.7);
  }

  snapshot(): Snapshot {
    return { coils: [...this.coils], registers: [...this.registers] };
  }

  readBits(area: 'coil' | 'di', start: number, count: number): boolean[] {
    if (area !== 'coil' || start + count > this.coils.length)
      throw new ModbusException(ExceptionCode.IllegalDataAddress);
    return this.coils.slice(start, start + count);
  }

  readRegisters(area: 'hr' | 'ir', start: number, count: number): number[] {
    const from = start - REGISTER_BASE;
    if (area !== 'hr' || from < 0 || from + count > this.registers.length) {
      throw new ModbusException(ExceptionCode.IllegalDataAddress);
    }
    return this.registers.slice(from, from + count);
  }

  writeBits(start: number, values: boolean[]): void {
    values.forEach((_, i) => {
      if (!WRITABLE_COILS.has(start + i))
        throw new ModbusException(ExceptionCode.IllegalDataAddress);
    });
    values.forEach((v, i) => this.writeCoil(start + i, v));
    this.refresh(this.speed / RATED_RPM, 0.7);
  }

  writeRegisters(): void {
    // The plant's program maps no writable registers: setpoints come from the HMI.
    throw new ModbusException(ExceptionCode.IllegalDataAddress);
  }

  private writeCoil(index: number, value: boolean): void {
    switch (COIL_NAMES[index]) {
      case 'motor_running':
        this.runCommand = value;
        break;
      case 'motor_stopped':
        this.runCommand = !value;
        break;
      case 'fault_alarm':
        if (value) this.injectFault(ErrorCode.MotorOverload);
        else this.resetFault();
        break;
      case 'conveyor_running':
        this.conveyorEnabled = value;
        break;
      case 'sensor_1_active':
        this.forcedSensors[0] = value;
        break;
      case 'sensor_2_active':
        this.forcedSensors[1] = value;
        break;
      case 'e_stop_active':
        this.eStop = value;
        if (value) this.runCommand = false;
        break;
      case 'DO_00':
        this.outputs[0] = value;
        break;
      case 'DO_01':
        this.outputs[1] = value;
        break;
      case 'DO_03':
        this.outputs[2] = value;
        break;
    }
  }

  private motorRunning(): boolean {
    return this.runCommand && !this.eStop && this.errorCode === ErrorCode.None;
  }

  private refresh(fraction: number, load: number): void {
    const noise = (amplitude: number) => (this.random() * 2 - 1) * amplitude;
    const running = this.motorRunning();
    const moving = this.conveyorEnabled && fraction > 0.05;
    const phase = (this.beltPosition % PART_SPACING_M) / PART_SPACING_M;
    const sensor1 = this.forcedSensors[0] ?? (moving && phase >= 0.1 && phase < 0.4);
    const sensor2 = this.forcedSensors[1] ?? (moving && phase >= 0.6 && phase < 0.9);
    // A forced sensor holds only until the next part edge, like a bumped photo-eye.
    if (moving && (phase < 0.1 || (phase >= 0.4 && phase < 0.6)))
      this.forcedSensors = [undefined, undefined];
    const currentA = fraction > 0 ? 2 + 10 * load * fraction + noise(0.15) : 0;
    const pressurePsi = 60 + 30 * fraction + noise(1);
    const c = this.coils;
    c[0] = running;
    c[1] = !running;
    c[2] = this.errorCode !== ErrorCode.None;
    c[3] = running && this.conveyorEnabled;
    c[4] = sensor1;
    c[5] = sensor2;
    c[6] = this.eStop;
    c[7] = running; // DI_00 motor contactor feedback
    c[8] = running && this.conveyorEnabled; // DI_01 conveyor drive feedback
    c[9] = sensor1; // DI_02 photo-eye 1
    c[10] = sensor2; // DI_03 photo-eye 2
    c[11] = !this.eStop; // DI_04 e-stop circuit healthy
    c[12] = true; // DI_05 guard door closed
    c[13] = pressurePsi > 50; // DI_06 air pressure switch
    c[14] = false; // DI_07 spare
    c[15] = this.outputs[0]!;
    c[16] = this.outputs[1]!;
    c[17] = this.outputs[2]!;
    const r = this.registers;
    r[0] = Math.round(this.speed);
    r[1] = Math.max(0, Math.round(currentA * 10));
    r[2] = Math.round((this.temperature + noise(0.1)) * 10);
    r[3] = Math.max(0, Math.round(pressurePsi));
    r[4] = moving ? Math.round(fraction * 100) : 0;
    r[5] = this.errorCode;
  }
}
