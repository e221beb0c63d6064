import { z } from 'zod';

/** The gateway's `maintenance.llm` section. */
export const llmConfigSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe('Ask the LLM; false: every work order gets the standard-checks template'),
    api: z
      .enum(['ollama', 'openai'])
      .default('ollama')
      .describe(
        'ollama: Ollama HTTP API; openai: any OpenAI-compatible /v1/chat/completions (vLLM, llama.cpp server)',
      ),
    url: z
      .url({ error: 'must be a URL such as http://127.0.0.1:11434' })
      .default('http://127.0.0.1:11434')
      .describe('Base URL of the server; for openai with or without the trailing /v1'),
    model: z.string().min(1).default('llama3.2:3b').describe('Model name as the server knows it'),
    endpoint: z
      .enum(['chat', 'generate'])
      .default('chat')
      .describe('ollama: /api/chat (messages) or /api/generate (system + prompt)'),
    think: z
      .boolean()
      .optional()
      .describe(
        'ollama: send think:false for a thinking model (qwen3, deepseek-r1) so the answer is not left in `thinking`; unset: not sent',
      ),
    apiKeyFile: z
      .string()
      .min(1)
      .optional()
      .describe('openai: file holding the bearer API key (first line)'),
    apiKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .optional()
      .describe('openai: environment variable holding the bearer API key'),
    waitMs: z
      .int()
      .min(0)
      .default(20_000)
      .describe(
        'Longest a new work order waits for its diagnosis, ms; after it the order says "diagnosis pending" and the diagnosis follows as a comment',
      ),
    timeoutMs: z
      .int()
      .min(1000)
      .default(300_000)
      .describe(
        'Longest one request may take, ms; a first request waits while the model loads (minutes on a Raspberry Pi)',
      ),
    connectTimeoutMs: z
      .int()
      .min(100)
      .default(3000)
      .describe('Longest wait for the TCP connection, ms: a server that is down fails fast'),
    numPredict: z
      .int()
      .min(64)
      .default(1024)
      .describe('Most tokens the model may generate (ollama num_predict, openai max_tokens)'),
    numCtx: z
      .int()
      .min(1024)
      .default(4096)
      .describe(
        'ollama num_ctx: context window, tokens; the prompt is cut to fit beside numPredict',
      ),
    keepAlive: z
      .union([z.string().regex(/^-?\d+(ms|s|m|h)?$/, 'a duration such as 30m, 1h or -1'), z.int()])
      .default('30m')
      .describe('ollama keep_alive: how long the model stays loaded after a request (-1: forever)'),
    concurrency: z
      .int()
      .min(1)
      .max(16)
      .default(1)
      .describe(
        'Requests in flight at once; Ollama serves one at a time unless OLLAMA_NUM_PARALLEL',
      ),
    queueMax: z
      .int()
      .min(1)
      .default(100)
      .describe(
        'Alarms waiting for the LLM; beyond, a new alarm gets the template at once (counted as dropped)',
      ),
    maxBatch: z
      .int()
      .min(1)
      .max(50)
      .default(8)
      .describe(
        'Waiting alarms of one asset answered by one request (flood grouping); 1 turns grouping off',
      ),
    retry: z
      .strictObject({
        attempts: z
          .int()
          .min(0)
          .max(10)
          .default(3)
          .describe('Retries after 503 busy, 5xx or a lost connection'),
        initialMs: z.int().min(10).default(1000).describe('First backoff delay, ms'),
        maxMs: z.int().min(10).default(30_000).describe('Longest backoff delay, ms'),
      })
      .prefault({})
      .describe('Backoff when the server is busy; invalid or truncated output is retried once'),
    breaker: z
      .strictObject({
        failures: z
          .int()
          .min(1)
          .default(5)
          .describe('Consecutive failed diagnoses that open the circuit (template at once)'),
        resetMs: z
          .int()
          .min(100)
          .default(60_000)
          .describe('How long the circuit stays open before one probe request, ms'),
      })
      .prefault({})
      .describe('Circuit breaker: stop waiting on an LLM that keeps failing'),
    historyMinutes: z
      .int()
      .min(1)
      .max(240)
      .default(15)
      .describe('Minutes of the asset tag history sent with an alarm'),
  })
  .superRefine((c, ctx) => {
    if (c.apiKeyFile && c.apiKeyEnv)
      ctx.addIssue({
        code: 'custom',
        path: ['apiKeyEnv'],
        message: 'set apiKeyFile or apiKeyEnv, not both',
      });
    if (c.numPredict >= c.numCtx)
      ctx.addIssue({
        code: 'custom',
        path: ['numPredict'],
        message: `must be smaller than numCtx (${c.numCtx}) to leave room for the prompt`,
      });
  })
  .describe('Maintenance LLM: diagnosis of each new alarm (Ollama or OpenAI-compatible)');

export type LlmConfig = z.output<typeof llmConfigSchema>;
