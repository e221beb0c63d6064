/** The alarm engine's public surface: everything the gateway's maintenance bridge may use. */
export { AlarmEngine, type AlarmEngineDeps } from './engine.js';
export { AlarmStateStore, type StoredAlarm, type StoredAsset } from './state-store.js';
export {
  alarmLine,
  alarmStatePayload,
  alarmTopic,
  ALARM_MEASUREMENT,
  ALARMS_LEVEL,
} from './events.js';
export {
  alarmOptionsSchema,
  alarmRulesSchema,
  compileRules,
  defaultAlarmStatePath,
  ASSET_STATUSES,
  SEVERITIES,
  SEVERITY_DEFAULTS,
  type AlarmOptions,
  type AlarmRule,
  type AlarmRulesConfig,
  type RuleConfig,
  type Severity,
} from './rules.js';
export { MICRO820_CODES } from './presets.js';
export type * from './types.js';
