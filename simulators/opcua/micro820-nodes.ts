import { COIL_NAMES, REGISTER_NAMES, type Snapshot } from '../micro820/model.js';

/**
 * The Micro 820's coils and registers as an OPC UA address space under
 * Objects/Plant/Line1/Conveyor. Values come from the one machine model the Modbus simulator
 * serves (same dynamics); this table only names and scales them the way an OPC UA PLC would
 * (engineering units instead of ×10 integers).
 */
export interface MachineVariable {
  /** Folders below Conveyor, then the variable's browse name. */
  path: string[];
  /** ns=2;s=<id> */
  id: string;
  kind: 'coil' | 'register';
  /** Coil index or register index (0 = motor_speed at 100). */
  index: number;
  dataType: 'Boolean' | 'Double' | 'UInt16';
  /** Engineering value = register × scale. */
  scale?: number;
  unit?: string;
  /** Expected range, served as EURange (percent deadbands are relative to it). */
  range?: [number, number];
  /** Writable coils go to the model as a Modbus write would. */
  writable?: boolean;
}

const coil = (name: (typeof COIL_NAMES)[number]) => COIL_NAMES.indexOf(name);
const reg = (name: (typeof REGISTER_NAMES)[number]) => REGISTER_NAMES.indexOf(name);

const VARIABLES: Omit<MachineVariable, 'id'>[] = [
  {
    path: ['Motor', 'Speed'],
    kind: 'register',
    index: reg('motor_speed'),
    dataType: 'Double',
    unit: 'rpm',
    range: [0, 1800],
  },
  {
    path: ['Motor', 'Current'],
    kind: 'register',
    index: reg('motor_current'),
    dataType: 'Double',
    scale: 0.1,
    unit: 'A',
    range: [0, 20],
  },
  {
    path: ['Motor', 'Temperature'],
    kind: 'register',
    index: reg('temperature'),
    dataType: 'Double',
    scale: 0.1,
    unit: '°C',
    range: [0, 120],
  },
  {
    path: ['Motor', 'Running'],
    kind: 'coil',
    index: coil('motor_running'),
    dataType: 'Boolean',
    writable: true,
  },
  {
    path: ['Motor', 'Stopped'],
    kind: 'coil',
    index: coil('motor_stopped'),
    dataType: 'Boolean',
    writable: true,
  },
  {
    path: ['Pressure'],
    kind: 'register',
    index: reg('pressure'),
    dataType: 'Double',
    unit: 'psi',
    range: [0, 150],
  },
  {
    path: ['Speed'],
    kind: 'register',
    index: reg('conveyor_speed'),
    dataType: 'Double',
    unit: '%',
    range: [0, 100],
  },
  {
    path: ['Running'],
    kind: 'coil',
    index: coil('conveyor_running'),
    dataType: 'Boolean',
    writable: true,
  },
  {
    path: ['Sensor1'],
    kind: 'coil',
    index: coil('sensor_1_active'),
    dataType: 'Boolean',
    writable: true,
  },
  {
    path: ['Sensor2'],
    kind: 'coil',
    index: coil('sensor_2_active'),
    dataType: 'Boolean',
    writable: true,
  },
  {
    path: ['Alarms', 'Fault'],
    kind: 'coil',
    index: coil('fault_alarm'),
    dataType: 'Boolean',
    writable: true,
  },
  { path: ['Alarms', 'ErrorCode'], kind: 'register', index: reg('error_code'), dataType: 'UInt16' },
  {
    path: ['Alarms', 'EStop'],
    kind: 'coil',
    index: coil('e_stop_active'),
    dataType: 'Boolean',
    writable: true,
  },
  ...(['DI_00', 'DI_01', 'DI_02', 'DI_03', 'DI_04', 'DI_05', 'DI_06', 'DI_07'] as const).map(
    (name): Omit<MachineVariable, 'id'> => ({
      path: ['IO', name],
      kind: 'coil',
      index: coil(name),
      dataType: 'Boolean',
    }),
  ),
  ...(['DO_00', 'DO_01', 'DO_03'] as const).map((name): Omit<MachineVariable, 'id'> => ({
    path: ['IO', name],
    kind: 'coil',
    index: coil(name),
    dataType: 'Boolean',
    writable: true,
  })),
];

export const MICRO820_VARIABLES: readonly MachineVariable[] = VARIABLES.map((v) => ({
  ...v,
  id: `Line1.Conveyor.${v.path.join('.')}`,
}));

/** A variable's engineering value in a snapshot of the model. */
export function valueIn(snapshot: Snapshot, v: MachineVariable): number | boolean {
  if (v.kind === 'coil') return snapshot.coils[v.index]!;
  const raw = snapshot.registers[v.index]!;
  return v.scale ? Number((raw * v.scale).toPrecision(12)) : raw;
}
