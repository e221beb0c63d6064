import { readFile } from 'node:fs/promises';
import { errorMessage } from '../../core/errors.js';
import type { LlmConfig } from './config.js';
import {
  DIAGNOSIS_SCHEMA_NAME,
  diagnosisJsonSchema,
  type Diagnosis,
  type DiagnosisContext,
} from './diagnosis.js';
import { httpError, LlmConfigError, LlmError, LlmOutputError } from './errors.js';
import { parseJson, retryAfterMs } from '../http.js';
import { httpCall } from './http.js';
import { parseDiagnosisText, runCheck, type CheckResult, type LlmClient } from './client.js';
import { buildMessages, DEFAULT_PROMPT_LIMITS, promptBudgetChars } from './prompt.js';

type OpenAiOptions = Pick<
  LlmConfig,
  'url' | 'model' | 'timeoutMs' | 'connectTimeoutMs' | 'numPredict' | 'numCtx'
>;

/** `{"error": {"message", "type"}}`, also Ollama's flat `{"error": "..."}`, else the raw text. */
function errorText(body: unknown, text: string): string {
  const error = (body as { error?: unknown } | undefined)?.error;
  if (typeof error === 'string') return error;
  if (error && typeof error === 'object') {
    const { message, type } = error as { message?: unknown; type?: unknown };
    if (typeof message === 'string')
      return typeof type === 'string' ? `${message} (${type})` : message;
  }
  return text.slice(0, 200);
}

/** Turns a `/v1/chat/completions` answer into a Diagnosis or the error the service acts on. */
export function readOpenAiAnswer(
  status: number,
  text: string,
  model: string,
  retryAfter?: number,
): Diagnosis {
  const body = parseJson(text);
  if (status !== 200)
    throw httpError(status, errorText(body, text), { model, api: 'openai' }, retryAfter);
  const choice = (
    body as
      | {
          choices?: Array<{
            message?: { content?: unknown; reasoning_content?: unknown; refusal?: unknown };
            finish_reason?: unknown;
          }>;
        }
      | undefined
  )?.choices?.[0];
  if (!choice) {
    throw new LlmOutputError(
      'invalid',
      `answer has no choices[0]: ${JSON.stringify(text.slice(0, 120))}`,
    );
  }
  if (choice.finish_reason === 'length') {
    throw new LlmOutputError(
      'truncated',
      'the answer was cut at max_tokens (finish_reason "length"); raise maintenance.llm.numPredict',
    );
  }
  const { content, reasoning_content: reasoning, refusal } = choice.message ?? {};
  if (typeof refusal === 'string' && refusal) {
    throw new LlmOutputError('invalid', `the model refused: ${refusal.slice(0, 200)}`);
  }
  if (typeof content !== 'string' || content.trim() === '') {
    const why =
      typeof reasoning === 'string' ? ' (it only wrote reasoning_content: a thinking model)' : '';
    throw new LlmOutputError('invalid', `the answer's choices[0].message.content is empty${why}`);
  }
  return parseDiagnosisText(content);
}

/**
 * The bearer key from the file or environment variable the config names. Read once at start; the
 * key is never part of an error message or a log line.
 */
export async function readApiKey(
  config: Pick<LlmConfig, 'apiKeyFile' | 'apiKeyEnv'>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  if (config.apiKeyFile) {
    let text: string;
    try {
      text = await readFile(config.apiKeyFile, 'utf8');
    } catch (err) {
      throw new LlmConfigError(
        `maintenance.llm.apiKeyFile: cannot read ${config.apiKeyFile}: ${errorMessage(err)}`,
      );
    }
    const key = text.split('\n')[0]!.trim();
    if (!key) throw new LlmConfigError(`maintenance.llm.apiKeyFile: ${config.apiKeyFile} is empty`);
    return key;
  }
  if (config.apiKeyEnv) {
    const key = env[config.apiKeyEnv]?.trim();
    if (!key)
      throw new LlmConfigError(
        `maintenance.llm.apiKeyEnv: environment variable ${config.apiKeyEnv} is not set`,
      );
    return key;
  }
  return undefined;
}

/** Client of an OpenAI-compatible `/v1/chat/completions` with json_schema structured output. */
export class OpenAiClient implements LlmClient {
  readonly model: string;
  private readonly base: string;
  private readonly promptChars: number;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly options: OpenAiOptions,
    apiKey?: string,
  ) {
    this.model = options.model;
    // Accept both http://host:8000 and http://host:8000/v1, the two ways servers document it.
    this.base = options.url.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.promptChars = promptBudgetChars(options.numCtx, options.numPredict);
    this.headers = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
  }

  async diagnose(ctx: DiagnosisContext, signal?: AbortSignal): Promise<Diagnosis> {
    const o = this.options;
    const messages = buildMessages(ctx, { ...DEFAULT_PROMPT_LIMITS, maxChars: this.promptChars });
    const answer = await httpCall({
      method: 'POST',
      url: new URL(`${this.base}/v1/chat/completions`),
      headers: this.headers,
      body: {
        model: o.model,
        messages,
        temperature: 0,
        max_tokens: o.numPredict,
        stream: false,
        response_format: {
          type: 'json_schema',
          json_schema: { name: DIAGNOSIS_SCHEMA_NAME, strict: true, schema: diagnosisJsonSchema },
        },
      },
      connectTimeoutMs: o.connectTimeoutMs,
      timeoutMs: o.timeoutMs,
      ...(signal ? { signal } : {}),
    });
    return readOpenAiAnswer(
      answer.status,
      answer.text,
      o.model,
      retryAfterMs(answer.headers['retry-after']),
    );
  }

  check(): Promise<CheckResult> {
    return runCheck(
      this,
      this.base,
      () => this.listModels(),
      'fix maintenance.llm.model to one the server lists (vLLM: --served-model-name)',
    );
  }

  private async listModels(): Promise<string[]> {
    const answer = await httpCall({
      method: 'GET',
      url: new URL(`${this.base}/v1/models`),
      headers: this.headers,
      connectTimeoutMs: this.options.connectTimeoutMs,
      timeoutMs: Math.min(this.options.timeoutMs, 30_000),
    });
    const body = parseJson(answer.text) as { data?: Array<{ id?: unknown }> } | undefined;
    if (answer.status === 401 || answer.status === 403)
      throw httpError(answer.status, errorText(body, answer.text), {
        model: this.model,
        api: 'openai',
      });
    if (answer.status !== 200 || !Array.isArray(body?.data)) {
      throw new LlmError(
        'config',
        `${this.base}/v1/models answered HTTP ${answer.status} without a model list; is maintenance.llm.url an OpenAI-compatible server?`,
      );
    }
    return body.data.map((m) => String(m.id));
  }
}
