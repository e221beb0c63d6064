import type { LlmConfig } from './config.js';
import { diagnosisJsonSchema, type Diagnosis, type DiagnosisContext } from './diagnosis.js';
import { httpError, LlmError, LlmOutputError } from './errors.js';
import { parseJson, retryAfterMs } from '../http.js';
import { httpCall } from './http.js';
import { parseDiagnosisText, runCheck, type CheckResult, type LlmClient } from './client.js';
import { buildMessages, DEFAULT_PROMPT_LIMITS, promptBudgetChars } from './prompt.js';

type OllamaOptions = Pick<
  LlmConfig,
  | 'url'
  | 'model'
  | 'endpoint'
  | 'think'
  | 'timeoutMs'
  | 'connectTimeoutMs'
  | 'numPredict'
  | 'numCtx'
  | 'keepAlive'
>;

/** What an Ollama error body says: `{"error": "..."}`, else the raw text. */
function errorText(body: unknown, text: string): string {
  if (body && typeof body === 'object' && typeof (body as { error?: unknown }).error === 'string')
    return (body as { error: string }).error;
  return text.slice(0, 200);
}

/**
 * Turns an Ollama answer (status + body) into a Diagnosis or the error the service acts on.
 * Pure, so every case (404, 503, truncated, thinking-only, malformed) is a table test.
 */
export function readOllamaAnswer(
  endpoint: 'chat' | 'generate',
  status: number,
  text: string,
  model: string,
  retryAfter?: number,
): Diagnosis {
  const body = parseJson(text);
  if (status !== 200)
    throw httpError(status, errorText(body, text), { model, api: 'ollama' }, retryAfter);
  if (!body || typeof body !== 'object') {
    // A server that ignored stream:false answers NDJSON lines: not one JSON document.
    throw new LlmOutputError(
      'invalid',
      `Ollama answer is not one JSON object: ${JSON.stringify(text.slice(0, 120))}`,
    );
  }
  const b = body as {
    message?: { content?: unknown; thinking?: unknown };
    response?: unknown;
    thinking?: unknown;
    done_reason?: unknown;
  };
  const content = endpoint === 'chat' ? b.message?.content : b.response;
  const thinking = endpoint === 'chat' ? b.message?.thinking : b.thinking;
  if (b.done_reason === 'length') {
    throw new LlmOutputError(
      'truncated',
      'the answer was cut at num_predict tokens (done_reason "length"); raise maintenance.llm.numPredict',
    );
  }
  if (typeof content !== 'string') {
    throw new LlmOutputError(
      'invalid',
      `Ollama answer has no ${endpoint === 'chat' ? 'message.content' : 'response'}`,
    );
  }
  if (content.trim() === '' && typeof thinking === 'string') {
    throw new LlmOutputError(
      'invalid',
      'the model only wrote its thinking and left the answer empty; set maintenance.llm.think: false or use a non-thinking model',
    );
  }
  return parseDiagnosisText(content);
}

/** Client of Ollama's `/api/chat` or `/api/generate`, with structured output. */
export class OllamaClient implements LlmClient {
  readonly model: string;
  private readonly base: string;
  private readonly promptChars: number;

  constructor(private readonly options: OllamaOptions) {
    this.model = options.model;
    this.base = options.url.replace(/\/+$/, '');
    this.promptChars = promptBudgetChars(options.numCtx, options.numPredict);
  }

  async diagnose(ctx: DiagnosisContext, signal?: AbortSignal): Promise<Diagnosis> {
    const o = this.options;
    const [system, user] = buildMessages(ctx, {
      ...DEFAULT_PROMPT_LIMITS,
      maxChars: this.promptChars,
    });
    const common = {
      model: o.model,
      // Streaming is Ollama's default; a streamed answer is NDJSON the parser rejects.
      stream: false,
      format: diagnosisJsonSchema,
      keep_alive: o.keepAlive,
      options: { temperature: 0, num_predict: o.numPredict, num_ctx: o.numCtx },
      ...(o.think === undefined ? {} : { think: o.think }),
    };
    const body =
      o.endpoint === 'chat'
        ? { ...common, messages: [system, user] }
        : { ...common, system: system!.content, prompt: user!.content };
    const answer = await httpCall({
      method: 'POST',
      url: new URL(`${this.base}/api/${o.endpoint}`),
      body,
      connectTimeoutMs: o.connectTimeoutMs,
      timeoutMs: o.timeoutMs,
      ...(signal ? { signal } : {}),
    });
    return readOllamaAnswer(
      o.endpoint,
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
      `pull it with \`ollama pull ${this.model}\` or fix maintenance.llm.model`,
    );
  }

  private async listModels(): Promise<string[]> {
    const answer = await httpCall({
      method: 'GET',
      url: new URL(`${this.base}/api/tags`),
      connectTimeoutMs: this.options.connectTimeoutMs,
      timeoutMs: Math.min(this.options.timeoutMs, 30_000),
    });
    const body = parseJson(answer.text) as
      { models?: Array<{ name?: unknown; model?: unknown }> } | undefined;
    if (answer.status !== 200 || !Array.isArray(body?.models)) {
      throw new LlmError(
        'config',
        `${this.base}/api/tags answered HTTP ${answer.status} without a model list; is maintenance.llm.url an Ollama server (api: openai for others)?`,
      );
    }
    return body.models.map((m) => String(m.name ?? m.model));
  }
}
