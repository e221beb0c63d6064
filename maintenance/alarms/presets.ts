import { z } from 'zod';

/** The Micro 820's error_code register (holding 105), ARCHITECTURE.md. */
export const MICRO820_CODES: Record<string, string> = {
  '0': 'none',
  '1': 'motor overload',
  '2': 'temperature high',
  '3': 'conveyor jam',
  '4': 'sensor failure',
  '5': 'communication loss',
};

/** `kind: micro820`: the plant's standard alarms of one Micro 820 asset, in one line of YAML. */
export const micro820PresetSchema = z.strictObject({
  kind: z.literal('micro820'),
  asset: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Asset the preset applies to, or * for every asset (with assetType: every asset of it)',
    ),
  assetType: z.string().min(1).optional().describe('Only assets of this type'),
  prefix: z
    .string()
    .regex(/^[a-z0-9_-]{0,32}$/, 'use a-z, 0-9, _ and -')
    .default('')
    .describe('Put before each rule name, when two presets cover different assets'),
  onDelayMs: z.int().min(0).max(3_600_000).default(1000).describe('On-delay of every rule, ms'),
  offDelayMs: z.int().min(0).max(3_600_000).default(5000).describe('Off-delay of every rule, ms'),
  closeOnClear: z
    .boolean()
    .default(false)
    .describe('Complete the work orders when the alarms clear'),
});

export type Micro820Preset = z.output<typeof micro820PresetSchema>;

/**
 * The rules `kind: micro820` stands for, as raw rule input (the caller validates them, which
 * fills the defaults): fault_alarm and e_stop_active bits, error_code ≠ 0 with the Micro 820
 * texts, and communication loss of its node or device.
 */
export function micro820Preset(p: Micro820Preset): Record<string, unknown>[] {
  const common = {
    ...(p.asset !== undefined ? { asset: p.asset } : {}),
    ...(p.assetType !== undefined ? { assetType: p.assetType } : {}),
    onDelayMs: p.onDelayMs,
    offDelayMs: p.offDelayMs,
    closeOnClear: p.closeOnClear,
  };
  return [
    {
      ...common,
      name: `${p.prefix}fault_alarm`,
      kind: 'boolean',
      tag: 'fault_alarm',
      group: `${p.prefix}fault`,
      severity: 'high',
      assetStatus: 'DOWN',
      description: 'The PLC raised its fault alarm (coil 2); the line is stopped.',
    },
    {
      ...common,
      name: `${p.prefix}e_stop_active`,
      kind: 'boolean',
      tag: 'e_stop_active',
      severity: 'high',
      assetStatus: 'DOWN',
      description:
        'An emergency stop is pressed (coil 6). Find out why before resetting it; check the guard and the stop circuit.',
    },
    {
      ...common,
      name: `${p.prefix}error_code`,
      kind: 'notEquals',
      tag: 'error_code',
      group: `${p.prefix}fault`,
      value: 0,
      codes: 'micro820',
      severity: 'high',
      description: 'The PLC reports an error code (holding register 105).',
    },
    {
      ...common,
      name: `${p.prefix}comm_loss`,
      kind: 'comm_loss',
      source: 'both',
      severity: 'medium',
      description:
        'The gateway no longer hears from this asset: its edge node is offline or cannot reach the PLC. Check power and network of the edge PC and the PLC.',
    },
  ];
}
