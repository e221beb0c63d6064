import { describe, expect, it } from 'vitest';
import { parseDiagnosisText, sameModel, sampleContext } from './client.js';
import { templateDiagnosis } from './template.js';
import { LlmError, type LlmErrorKind } from './errors.js';
import { retryAfterMs } from '../http.js';
import { readOllamaAnswer } from './ollama.js';
import { readOpenAiAnswer } from './openai.js';

const good = JSON.stringify(templateDiagnosis(sampleContext()));
const half = good.slice(0, good.length / 2);

function kindOf(fn: () => unknown): LlmErrorKind | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof LlmError) return err.kind;
    throw err;
  }
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}

const chat = (message: object, extra: object = {}) =>
  JSON.stringify({
    model: 'm',
    message: { role: 'assistant', ...message },
    done: true,
    done_reason: 'stop',
    ...extra,
  });

describe('readOllamaAnswer (chat)', () => {
  it.each<[string, number, string, LlmErrorKind | 'ok']>([
    ['a valid answer', 200, chat({ content: good }), 'ok'],
    ['404 model not found', 404, '{"error":"model \'m\' not found"}', 'config'],
    [
      '503 busy',
      503,
      '{"error":"server busy, please try again.  maximum pending requests exceeded"}',
      'busy',
    ],
    ['500 runner died', 500, '{"error":"llama runner process has terminated"}', 'busy'],
    ['502 from a proxy, HTML body', 502, '<html>Bad Gateway</html>', 'busy'],
    ['400 bad request', 400, '{"error":"invalid format"}', 'rejected'],
    ['done_reason length', 200, chat({ content: half }, { done_reason: 'length' }), 'truncated'],
    ['thinking only', 200, chat({ content: '', thinking: 'Let me think' }), 'invalid'],
    ['malformed JSON content', 200, chat({ content: half }), 'invalid'],
    ['prose instead of JSON', 200, chat({ content: 'The motor is overloaded.' }), 'invalid'],
    ['JSON of the wrong shape', 200, chat({ content: '{"summary":"x"}' }), 'invalid'],
    ['no message', 200, JSON.stringify({ done: true }), 'invalid'],
    [
      'an NDJSON stream (stream:false ignored)',
      200,
      `${chat({ content: '{' })}\n${chat({ content: '}' })}\n`,
      'invalid',
    ],
    ['a body that is not JSON', 200, 'hello', 'invalid'],
  ])('%s → %s', (_name, status, body, kind) => {
    expect(kindOf(() => readOllamaAnswer('chat', status, body, 'llama3.2:3b'))).toBe(kind);
  });

  it('names the model and the command that fixes a 404', () => {
    expect(
      messageOf(() => readOllamaAnswer('chat', 404, '{"error":"model \'x\' not found"}', 'x')),
    ).toBe(
      "model x not found (HTTP 404: model 'x' not found); pull it with `ollama pull x` or fix maintenance.llm.model",
    );
  });

  it('carries Retry-After of a busy answer', () => {
    try {
      readOllamaAnswer('chat', 503, '{"error":"busy"}', 'm', 2000);
    } catch (err) {
      expect((err as LlmError).retryAfterMs).toBe(2000);
    }
    expect.assertions(1);
  });
});

describe('readOllamaAnswer (generate)', () => {
  const gen = (extra: object) =>
    JSON.stringify({ model: 'm', done: true, done_reason: 'stop', ...extra });
  it.each<[string, string, LlmErrorKind | 'ok']>([
    ['a valid response', gen({ response: good }), 'ok'],
    ['thinking only', gen({ response: '', thinking: 'hmm' }), 'invalid'],
    ['truncated', gen({ response: half, done_reason: 'length' }), 'truncated'],
    ['chat-shaped answer', chat({ content: good }), 'invalid'],
  ])('%s → %s', (_name, body, kind) => {
    expect(kindOf(() => readOllamaAnswer('generate', 200, body, 'm'))).toBe(kind);
  });
});

describe('readOpenAiAnswer', () => {
  const completion = (message: object, finish = 'stop') =>
    JSON.stringify({
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finish }],
    });
  const err = (message: string, type: string) =>
    JSON.stringify({ error: { message, type, param: null, code: null } });
  it.each<[string, number, string, LlmErrorKind | 'ok']>([
    ['a valid answer', 200, completion({ content: good }), 'ok'],
    ['a fenced answer', 200, completion({ content: `\`\`\`json\n${good}\n\`\`\`` }), 'ok'],
    [
      '404 unknown model',
      404,
      err('The model `m` does not exist', 'invalid_request_error'),
      'config',
    ],
    ['401 bad key', 401, err('Incorrect API key provided', 'invalid_request_error'), 'config'],
    ['429 rate limit', 429, err('Rate limit reached', 'requests'), 'busy'],
    ['503 overloaded', 503, err('overloaded', 'server_error'), 'busy'],
    [
      '400 context too long',
      400,
      err('maximum context length is 4096 tokens', 'invalid_request_error'),
      'rejected',
    ],
    ['finish_reason length', 200, completion({ content: half }, 'length'), 'truncated'],
    ['reasoning only', 200, completion({ content: '', reasoning_content: 'thinking' }), 'invalid'],
    ['null content', 200, completion({ content: null }), 'invalid'],
    ['a refusal', 200, completion({ content: null, refusal: 'I cannot help' }), 'invalid'],
    ['malformed content', 200, completion({ content: half }), 'invalid'],
    ['no choices', 200, JSON.stringify({ choices: [] }), 'invalid'],
  ])('%s → %s', (_name, status, body, kind) => {
    expect(kindOf(() => readOpenAiAnswer(status, body, 'm'))).toBe(kind);
  });

  it('quotes the server message and type', () => {
    expect(messageOf(() => readOpenAiAnswer(500, err('boom', 'server_error'), 'm'))).toBe(
      'LLM server busy or failing (HTTP 500: boom (server_error))',
    );
  });
});

describe('helpers', () => {
  it.each([
    ['{"a":1}', false],
    [good, true],
    [`  ${good}\n`, true],
    [`\`\`\`\n${good}\n\`\`\``, true],
  ])('parseDiagnosisText(%s) valid: %s', (text, ok) => {
    expect(kindOf(() => parseDiagnosisText(text)) === 'ok').toBe(ok);
  });

  it.each<[string | undefined, number | undefined]>([
    [undefined, undefined],
    ['3', 3000],
    ['0', 0],
    ['Wed, 21 Oct 2015 07:28:05 GMT', 5000],
    ['soon', undefined],
  ])('Retry-After %s → %s ms', (header, ms) => {
    expect(retryAfterMs(header, Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(ms);
  });

  it.each([
    ['llama3.2', 'llama3.2:latest', true],
    ['llama3.2:3b', 'llama3.2:3b', true],
    ['llama3.2:3b', 'llama3.2:1b', false],
    ['Qwen/Qwen2.5-3B-Instruct', 'Qwen/Qwen2.5-3B-Instruct', true],
  ])('sameModel(%s, %s) = %s', (a, b, same) => {
    expect(sameModel(a, b)).toBe(same);
  });
});
