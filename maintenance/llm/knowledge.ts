import type { Priority } from './diagnosis.js';

/** What a maintenance engineer knows about one kind of fault, without any model. */
export interface FaultKnowledge {
  kind: string;
  /** Matched against the decoded alarm text and the rule name. */
  match: RegExp;
  causes: string[];
  checks: string[];
  parts: string[];
  priority: Priority;
}

/**
 * The Micro 820 error codes (1 motor overload … 5 communication loss) and the boolean alarms of
 * its map (fault_alarm, e_stop_active), plus generic threshold alarms. The template fallback
 * answers from this table; the LLM simulator uses it too, so both speak about the same faults.
 */
export const FAULT_KNOWLEDGE: readonly FaultKnowledge[] = [
  {
    kind: 'motor-overload',
    match: /overload|motor_current|over[- ]?current/i,
    causes: [
      'Mechanical overload: conveyor jammed or belt too tight',
      'Motor bearing wear or seizure',
      'Overload relay set too low or tripped by a phase loss',
    ],
    checks: [
      'Check the conveyor for jams and foreign objects',
      'Measure motor current on all three phases against the nameplate',
      'Turn the motor shaft by hand and listen for bearing noise',
      'Check the overload relay setting and reset it',
    ],
    parts: ['Motor bearings', 'Overload relay'],
    priority: 'HIGH',
  },
  {
    kind: 'temperature-high',
    match: /temperature|overheat|thermal/i,
    causes: [
      'Cooling fan or air path blocked',
      'Motor running overloaded for a long time',
      'Temperature sensor fault',
    ],
    checks: [
      'Check the motor fan and clean the cooling fins',
      'Compare the reading with a handheld thermometer',
      'Check motor current for a sustained overload',
    ],
    parts: ['Motor cooling fan', 'Temperature sensor (RTD/thermocouple)'],
    priority: 'HIGH',
  },
  {
    kind: 'conveyor-jam',
    match: /jam|blocked|conveyor_speed/i,
    causes: [
      'Product or debris blocking the belt',
      'Belt misaligned or slipping on the drive pulley',
      'Photo-eye misreading parts as a jam',
    ],
    checks: [
      'Inspect the belt path and clear any blockage',
      'Check belt tracking and tension',
      'Clean and test the jam detection sensors',
    ],
    parts: ['Conveyor belt', 'Drive pulley lagging'],
    priority: 'MEDIUM',
  },
  {
    kind: 'sensor-failure',
    match: /sensor/i,
    causes: [
      'Sensor dirty, misaligned or damaged',
      'Loose or broken sensor cable',
      'Failed input card channel',
    ],
    checks: [
      'Clean the sensor face and check its alignment',
      'Check the sensor LED and the PLC input LED together',
      'Inspect the cable and connector for damage',
    ],
    parts: ['Proximity/photo sensor', 'Sensor cable (M12)'],
    priority: 'MEDIUM',
  },
  {
    kind: 'communication-loss',
    match: /communication|comm(s)?[ _-]?loss|offline|stale|no data/i,
    causes: [
      'Network cable or switch port failure',
      'PLC powered off or in fault mode',
      'IP address conflict or changed configuration',
    ],
    checks: [
      'Check the PLC power and run/fault LEDs',
      'Check the Ethernet link LEDs on the PLC and the switch',
      'Ping the PLC from the edge PC',
    ],
    parts: ['Ethernet patch cable'],
    priority: 'HIGH',
  },
  {
    kind: 'emergency-stop',
    match: /e[-_ ]?stop|emergency/i,
    causes: ['An emergency stop was pressed', 'E-stop circuit wiring or safety relay fault'],
    checks: [
      'Find out who pressed the e-stop and why before resetting',
      'Inspect the e-stop buttons and pull cords along the line',
      'Check the safety relay status',
    ],
    parts: ['E-stop contact block', 'Safety relay'],
    priority: 'HIGH',
  },
];

/** Fallback when nothing in the table matches: a general fault. */
export const GENERIC_FAULT: FaultKnowledge = {
  kind: 'generic',
  match: /.*/,
  causes: ['The cause is not known from the alarm alone'],
  checks: [
    'Read the fault on the PLC or HMI and note the exact message',
    'Inspect the equipment for visible damage, noise or heat',
    'Review the recent tag values and work orders of this asset',
  ],
  parts: [],
  priority: 'MEDIUM',
};

/** The knowledge that best matches an alarm's text (tried first) or rule name. */
export function knowledgeFor(text: string, rule = ''): FaultKnowledge {
  return (
    FAULT_KNOWLEDGE.find((k) => k.match.test(text)) ??
    FAULT_KNOWLEDGE.find((k) => k.match.test(rule)) ??
    GENERIC_FAULT
  );
}

/** Said on every order where energy is involved, whatever the model answers. */
export const LOTO_NOTE =
  'Lock out and tag out the machine (electrical and stored mechanical energy) before opening guards or touching moving parts.';
