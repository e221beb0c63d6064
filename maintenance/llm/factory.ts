import type { LlmClient } from './client.js';
import type { LlmConfig } from './config.js';
import { OllamaClient } from './ollama.js';
import { OpenAiClient, readApiKey } from './openai.js';

/** The client the config asks for; reads the API key (LlmConfigError when it cannot). */
export async function createLlmClient(
  config: LlmConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LlmClient> {
  if (config.api === 'ollama') return new OllamaClient(config);
  return new OpenAiClient(config, await readApiKey(config, env));
}
