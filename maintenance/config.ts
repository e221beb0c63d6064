import { z } from 'zod';
import { alarmOptionsSchema, alarmRulesSchema } from './alarms/index.js';
import { cmmsConfigSchema, webhookConfigSchema } from './cmms/index.js';
import { llmConfigSchema } from './llm/index.js';

/** The gateway config's `maintenance:` section: alarm rules → LLM diagnosis → CMMS work order. */
export const maintenanceConfigSchema = z
  .strictObject({
    rules: alarmRulesSchema.default([]),
    alarms: alarmOptionsSchema,
    llm: llmConfigSchema.prefault({}),
    cmms: cmmsConfigSchema.optional(),
    webhook: webhookConfigSchema.optional(),
    leaseTtlSec: z
      .int()
      .min(2)
      .max(300)
      .default(15)
      .describe(
        'Several gateways elect one to run the bridge (an MQTT-retained lease renewed at a third of this); another takes over this long after the holder stops renewing, s',
      ),
  })
  .describe(
    'Maintenance bridge: alarm rules on live samples, a diagnosis from the maintenance LLM, one work order per fault in Atlas CMMS (maintenance/README.md)',
  );

export type MaintenanceConfig = z.output<typeof maintenanceConfigSchema>;
