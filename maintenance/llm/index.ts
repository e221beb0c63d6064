/** The maintenance LLM's public surface: what the gateway's bridge and the CLI may use. */
export { llmConfigSchema, type LlmConfig } from './config.js';
export {
  diagnosisSchema,
  diagnosisJsonSchema,
  PRIORITIES,
  type Diagnosis,
  type DiagnosisContext,
  type DiagnosisMeta,
  type Priority,
  type RelatedAlarm,
} from './diagnosis.js';
export { buildMessages, promptBudgetChars, type ChatMessage, type PromptLimits } from './prompt.js';
export { formatDiagnosis, templateDiagnosis, MAX_DIAGNOSIS_TEXT } from './template.js';
export { sampleContext, type CheckResult, type CheckStep, type LlmClient } from './client.js';
export { OllamaClient } from './ollama.js';
export { OpenAiClient, readApiKey } from './openai.js';
export { createLlmClient } from './factory.js';
export {
  LlmBusyError,
  LlmConfigError,
  LlmError,
  LlmOutputError,
  type LlmErrorKind,
} from './errors.js';
export {
  DiagnosisService,
  type DiagnosisRequest,
  type DiagnosisResult,
  type DiagnosisServiceOptions,
  type DiagnosisStats,
  type FallbackReason,
} from './service.js';
