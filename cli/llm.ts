import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { z } from 'zod';
import { parseConfigText } from '../core/config/load.js';
import { llmConfigSchema, type LlmConfig } from '../maintenance/llm/config.js';
import { createLlmClient } from '../maintenance/llm/factory.js';
import { exitWithError, parseIntOption } from './run.js';

interface LlmCheckOptions {
  config?: string;
  url?: string;
  model?: string;
  api?: 'ollama' | 'openai';
  endpoint?: 'chat' | 'generate';
  apiKeyEnv?: string;
  apiKeyFile?: string;
  timeout?: number;
}

/** Only `maintenance.llm` of a gateway config matters here; the rest is the gateway's to check. */
const gatewayLlmSection = z.looseObject({
  maintenance: z.looseObject({ llm: llmConfigSchema.prefault({}) }).prefault({}),
});

function choice<T extends string>(name: string, values: readonly T[]) {
  return (v: string): T => {
    if (!(values as readonly string[]).includes(v))
      throw new InvalidArgumentError(`${name} must be one of ${values.join(', ')}`);
    return v as T;
  };
}

async function resolveConfig(opts: LlmCheckOptions): Promise<LlmConfig> {
  const base = opts.config
    ? parseConfigText(await readFile(opts.config, 'utf8'), opts.config, gatewayLlmSection)
        .maintenance.llm
    : llmConfigSchema.parse({});
  const flags = {
    ...(opts.url ? { url: opts.url } : {}),
    ...(opts.model ? { model: opts.model } : {}),
    ...(opts.api ? { api: opts.api } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(opts.apiKeyEnv ? { apiKeyEnv: opts.apiKeyEnv, apiKeyFile: undefined } : {}),
    ...(opts.apiKeyFile ? { apiKeyFile: opts.apiKeyFile, apiKeyEnv: undefined } : {}),
    ...(opts.timeout ? { timeoutMs: opts.timeout } : {}),
  };
  const parsed = llmConfigSchema.safeParse({ ...base, ...flags });
  if (!parsed.success) {
    throw new Error(
      parsed.error.issues.map((i) => `${i.path.join('.') || 'llm'}: ${i.message}`).join('; '),
    );
  }
  return parsed.data;
}

export function registerLlm(program: Command): void {
  const llm = program.command('llm').description('Maintenance LLM (Ollama or OpenAI-compatible)');
  llm
    .command('check')
    .description(
      'Check the maintenance LLM: server reachable, model present, one timed sample diagnosis',
    )
    .option('-c, --config <file>', 'gateway config: its maintenance.llm section is checked')
    .option('--url <url>', 'server base URL (default http://127.0.0.1:11434)')
    .option('--model <name>', 'model (default llama3.2:3b)')
    .option('--api <api>', 'ollama or openai', choice('--api', ['ollama', 'openai'] as const))
    .option(
      '--endpoint <e>',
      'ollama: chat or generate',
      choice('--endpoint', ['chat', 'generate'] as const),
    )
    .option('--api-key-env <name>', 'openai: environment variable holding the API key')
    .option('--api-key-file <file>', 'openai: file holding the API key')
    .option(
      '--timeout <ms>',
      'longest wait for the sample diagnosis (model load included)',
      parseIntOption('--timeout'),
    )
    .addHelpText(
      'after',
      `
Prints one line per step (✔ or ✖) and exits 1 at the first failure, saying what to
do next. Flags override the config file.

Examples:
  factorylm llm check
  factorylm llm check --config /etc/factorylm/gateway.yaml
  factorylm llm check --api openai --url http://127.0.0.1:8000/v1 --model Qwen2.5-3B-Instruct --api-key-env VLLM_KEY`,
    )
    .action(async (opts: LlmCheckOptions) => {
      const config = await resolveConfig(opts).catch(exitWithError);
      const client = await createLlmClient(config).catch(exitWithError);
      console.log(`checking ${config.api} ${config.url} model ${config.model}`);
      const result = await client.check();
      for (const step of result.steps) {
        const took = step.ms === undefined ? '' : ` (${Math.round(step.ms)} ms)`;
        console.log(`${step.ok ? '✔' : '✖'} ${step.name}: ${step.detail}${took}`);
      }
      if (!result.ok) process.exit(1);
      console.log('LLM ready for diagnoses');
    });
}
