/**
 * Why a diagnosis request failed, which decides what the service does next:
 * - config: wrong model, URL path or API key; retrying cannot help (template, error state);
 * - busy: 503/5xx/429, refused or lost connection; retried with backoff;
 * - timeout: no answer within timeoutMs; not retried (the server may still be working on it);
 * - invalid: the answer is not the JSON asked for (malformed, empty, thinking only); retried once;
 * - truncated: the model hit num_predict/max_tokens; retried once;
 * - rejected: the server refused this one request (400: prompt too long, bad schema).
 */
export type LlmErrorKind = 'config' | 'busy' | 'timeout' | 'invalid' | 'truncated' | 'rejected';

export const LLM_ERROR_KINDS: readonly LlmErrorKind[] = [
  'config',
  'busy',
  'timeout',
  'invalid',
  'truncated',
  'rejected',
];

export class LlmError extends Error {
  constructor(
    readonly kind: LlmErrorKind,
    message: string,
    /** Server's Retry-After, ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'LlmError';
  }
}

/** Model missing, wrong API path or key: tell the operator what to fix; never retried. */
export class LlmConfigError extends LlmError {
  constructor(message: string) {
    super('config', message);
    this.name = 'LlmConfigError';
  }
}

/** The server is there but cannot take the request now. */
export class LlmBusyError extends LlmError {
  constructor(message: string, retryAfterMs?: number) {
    super('busy', message, retryAfterMs);
    this.name = 'LlmBusyError';
  }
}

/** The answer cannot be used: `truncated` when the token limit cut it, else `invalid`. */
export class LlmOutputError extends LlmError {
  constructor(kind: 'invalid' | 'truncated', message: string) {
    super(kind, message);
    this.name = 'LlmOutputError';
  }
}

/** Maps an HTTP error status and the server's message to the error the service acts on. */
export function httpError(
  status: number,
  serverMessage: string,
  hints: { model: string; api: 'ollama' | 'openai' },
  retryAfterMs?: number,
): LlmError {
  const said = serverMessage ? `: ${serverMessage}` : '';
  if (status === 404) {
    const fix =
      hints.api === 'ollama'
        ? `pull it with \`ollama pull ${hints.model}\` or fix maintenance.llm.model`
        : 'check maintenance.llm.model (GET /v1/models lists what the server has) and maintenance.llm.url';
    return new LlmConfigError(`model ${hints.model} not found (HTTP 404${said}); ${fix}`);
  }
  if (status === 401 || status === 403) {
    return new LlmConfigError(
      `the server refused the API key (HTTP ${status}${said}); check maintenance.llm.apiKeyFile or apiKeyEnv`,
    );
  }
  if (status === 429 || status === 408 || status >= 500) {
    return new LlmBusyError(`LLM server busy or failing (HTTP ${status}${said})`, retryAfterMs);
  }
  return new LlmError('rejected', `LLM server refused the request (HTTP ${status}${said})`);
}
