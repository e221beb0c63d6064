import { z } from 'zod';
import { topicLevelProblem } from './mqtt/topics.js';

/**
 * The config fields every tag has whatever its protocol: where it is published, how its raw
 * value becomes engineering units, when it is reported, and whether it may be written. A driver's
 * tag schema is these plus its own address fields, so every protocol publishes the same way.
 */

/** A name that becomes one MQTT topic level. */
export const topicLevel = (what: string) =>
  z.string().superRefine((s, ctx) => {
    const problem = topicLevelProblem(s);
    if (problem) ctx.addIssue({ code: 'custom', message: `${what} "${s}" ${problem}` });
  });

/** Name and asset: first in every tag, so the generated JSON Schema reads naturally. */
export const tagIdentityFields = {
  name: topicLevel('tag name').describe('Tag name; the last MQTT topic level'),
  asset: topicLevel('asset')
    .optional()
    .describe("Asset the tag belongs to; default: the device's asset"),
};

/** Scaling, report by exception and writes: after a driver's address fields. */
export const tagPublishingFields = {
  scale: z
    .number()
    .refine(Number.isFinite, 'must be a finite number')
    .default(1)
    .describe('engineering = raw × scale + offset'),
  offset: z.number().default(0).describe('engineering = raw × scale + offset'),
  unit: z.string().optional().describe('Engineering unit, e.g. rpm, A, °C'),
  deadband: z
    .number()
    .min(0)
    .default(0)
    .describe(
      'Publish only when the value moves more than this (engineering units); 0 = any change',
    ),
  deadbandPercent: z
    .number()
    .min(0)
    .max(100)
    .default(0)
    .describe(
      'Publish only when the value moves more than this percent of the last published value; 0 = off',
    ),
  minIntervalMs: z
    .int()
    .min(0)
    .optional()
    .describe(
      'Publish a value change no more often than this, ms (quality changes always go out); default: publish.minIntervalMs',
    ),
  maxSilenceMs: z
    .int()
    .min(1000)
    .optional()
    .describe('Re-publish an unchanged value after this long, ms; default: publish.heartbeatMs'),
  writable: z
    .boolean()
    .default(false)
    .describe('Allow writes to this tag (off by default: nothing writes to a PLC unless marked)'),
  min: z.number().optional().describe('Smallest value a write may set (engineering units)'),
  max: z.number().optional().describe('Largest value a write may set (engineering units)'),
  description: z.string().optional(),
};

/** Fields every device has: its name, its tags' default asset and a publishing mode of its own. */
export const deviceNameField = topicLevel('device name').describe(
  'Device name, unique on this node',
);
export const assetField = topicLevel('asset').describe("Default asset for this device's tags");
export const publishModeField = z
  .enum(['tag', 'asset'])
  .optional()
  .describe("Override publish.mode for this device's tags");
