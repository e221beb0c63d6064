import type { IncomingMessage, ServerResponse } from 'node:http';
import { tokens } from './answer.js';

// The wire formats of the two APIs the simulator speaks: bodies in, answers and errors out.

export type Api = 'chat' | 'generate' | 'openai';

const MAX_BODY = 1024 * 1024;

export class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly outcome = 'error',
  ) {
    super(message);
  }
}

export function ollamaModel(name: string) {
  return {
    name,
    model: name,
    modified_at: '2026-01-01T00:00:00Z',
    size: 2_019_393_189,
    digest: 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72',
    details: {
      format: 'gguf',
      family: 'llama',
      parameter_size: '3.2B',
      quantization_level: 'Q4_K_M',
    },
  };
}

export function ollamaFields(prompt: string, content: string) {
  const evalCount = tokens(content);
  return {
    total_duration: 1_000_000 * (50 + evalCount),
    load_duration: 1_000_000,
    prompt_eval_count: tokens(prompt),
    prompt_eval_duration: 10_000_000,
    eval_count: evalCount,
    eval_duration: 1_000_000 * evalCount,
  };
}

export function openAiCompletion(
  model: string,
  prompt: string,
  content: string,
  reason: string,
  thinking?: string,
) {
  return {
    id: `chatcmpl-sim${Date.now()}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    system_fingerprint: 'fp_factorylm_sim',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content,
          ...(thinking ? { reasoning_content: thinking } : {}),
        },
        finish_reason: reason,
      },
    ],
    usage: {
      prompt_tokens: tokens(prompt),
      completion_tokens: tokens(content),
      total_tokens: tokens(prompt) + tokens(content),
    },
  };
}

export function formatKind(format: unknown, api: Api): 'schema' | 'json' | 'none' {
  if (api === 'openai') {
    const type = (format as { type?: unknown } | undefined)?.type;
    return type === 'json_schema' ? 'schema' : type === 'json_object' ? 'json' : 'none';
  }
  if (format === 'json') return 'json';
  return format && typeof format === 'object' ? 'schema' : 'none';
}

/** All the text the model would read. */
export function promptOf(api: Api, body: Record<string, unknown>): string {
  if (api === 'generate') {
    if (typeof body.prompt !== 'string')
      throw new HttpFailure(400, 'prompt is required', 'bad-request');
    return `${typeof body.system === 'string' ? body.system : ''}\n${body.prompt}`;
  }
  const messages = body.messages;
  if (
    !Array.isArray(messages) ||
    messages.some((m) => typeof (m as { content?: unknown })?.content !== 'string')
  ) {
    throw new HttpFailure(400, 'messages must be an array of {role, content}', 'bad-request');
  }
  return messages.map((m) => (m as { content: string }).content).join('\n');
}

export function notFound(model: string, api: Api): HttpFailure {
  const message =
    api === 'openai'
      ? `The model \`${model}\` does not exist or you do not have access to it.`
      : `model '${model}' not found`;
  return new HttpFailure(404, message, 'not-found');
}

export async function readBody(req: IncomingMessage, api: Api): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY)
      throw new HttpFailure(413, `request body exceeds ${MAX_BODY} bytes`, 'bad-request');
    chunks.push(chunk as Buffer);
  }
  try {
    const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (body && typeof body === 'object' && !Array.isArray(body))
      return body as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new HttpFailure(
    400,
    api === 'openai' ? 'We could not parse the JSON body of your request.' : 'invalid JSON body',
    'bad-request',
  );
}

export function json(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/** Ollama errors are `{"error": "..."}`; OpenAI's `{"error": {"message", "type", "param", "code"}}`. */
export function sendError(res: ServerResponse, api: Api, failure: HttpFailure): void {
  if (api !== 'openai') return json(res, failure.status, { error: failure.message });
  const type = failure.status >= 500 ? 'server_error' : 'invalid_request_error';
  const code =
    failure.status === 404 ? 'model_not_found' : failure.status === 401 ? 'invalid_api_key' : null;
  json(res, failure.status, { error: { message: failure.message, type, param: null, code } });
}
