import type { AgentConfig } from './config.js';

/** Settings bound to the process: a reload keeps their running values. */
const FIXED = [
  'site',
  'area',
  'line',
  'node',
  'mqtt',
  'outbox',
  'health',
  'sparkplug',
  'inventory',
] as const;
/** Publishing settings bound to the broker session and the outbox. */
const FIXED_PUBLISH = ['output', 'qos', 'maxInflight'] as const;

export interface ReloadPlan {
  /** What the agent runs after the reload: the new config with the fixed settings kept. */
  config: AgentConfig;
  /** Changed settings that only take effect on restart (`mqtt`, `publish.qos` …). */
  restartNeeded: string[];
}

/**
 * What a config reload applies. Devices, tags and the publishing policy change at once; identity,
 * broker, outbox, health, Sparkplug and inventory settings need a restart and keep their values.
 */
export function planReload(running: AgentConfig, next: AgentConfig): ReloadPlan {
  const restartNeeded: string[] = FIXED.filter(
    (k) => JSON.stringify(running[k]) !== JSON.stringify(next[k]),
  );
  for (const k of FIXED_PUBLISH)
    if (running.publish[k] !== next.publish[k]) restartNeeded.push(`publish.${k}`);
  return {
    config: {
      ...next,
      ...Object.fromEntries(FIXED.map((k) => [k, running[k]])),
      publish: {
        ...next.publish,
        output: running.publish.output,
        qos: running.publish.qos,
        maxInflight: running.publish.maxInflight,
      },
    },
    restartNeeded,
  };
}
