import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseConfigText } from '../../core/config/load.js';
import { llmConfigSchema } from './config.js';

describe('llmConfigSchema', () => {
  it('has defaults for a local Ollama', () => {
    expect(llmConfigSchema.parse({})).toMatchObject({
      api: 'ollama',
      url: 'http://127.0.0.1:11434',
      model: 'llama3.2:3b',
      endpoint: 'chat',
      concurrency: 1,
      keepAlive: '30m',
      retry: { attempts: 3 },
      breaker: { failures: 5, resetMs: 60_000 },
    });
  });

  it.each<[string, object, string]>([
    [
      'both key sources',
      { apiKeyFile: '/k', apiKeyEnv: 'K' },
      'apiKeyEnv: set apiKeyFile or apiKeyEnv, not both',
    ],
    [
      'numPredict ≥ numCtx',
      { numPredict: 4096, numCtx: 4096 },
      'numPredict: must be smaller than numCtx (4096)',
    ],
    ['a bad keep_alive', { keepAlive: 'forever' }, 'keepAlive'],
    ['a bad URL', { url: 'localhost' }, 'url: must be a URL'],
    ['an unknown api', { api: 'claude' }, 'api'],
    ['a typo', { modle: 'x' }, 'modle'],
  ])('refuses %s', (_name, input, message) => {
    const result = llmConfigSchema.safeParse(input);
    expect(result.success).toBe(false);
    const text = result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
    expect(text).toContain(message);
  });

  it.each([['-1'], ['5m'], [300], [0]])('accepts keepAlive %j', (keepAlive) => {
    expect(llmConfigSchema.safeParse({ keepAlive }).success).toBe(true);
  });
});

describe('deploy/examples/maintenance-llm.yaml', () => {
  const file = 'deploy/examples/maintenance-llm.yaml';
  const schema = z.looseObject({ maintenance: z.looseObject({ llm: llmConfigSchema }) });

  it('loads, and every value it sets is the default', () => {
    const loaded = parseConfigText(readFileSync(file, 'utf8'), file, schema, {});
    expect(loaded.maintenance.llm).toEqual(llmConfigSchema.parse({}));
  });

  it('takes the URL from LLM_URL', () => {
    const loaded = parseConfigText(readFileSync(file, 'utf8'), file, schema, {
      LLM_URL: 'http://127.0.0.1:8000/v1',
    });
    expect(loaded.maintenance.llm.url).toBe('http://127.0.0.1:8000/v1');
  });
});
