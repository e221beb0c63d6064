import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { sleep } from '../../core/backoff.js';
import { listenOn } from '../../core/listen.js';
import type { Logger } from '../../core/logger.js';
import { proseAnswer, simulatedDiagnosis, tokens } from './answer.js';
import {
  formatKind,
  HttpFailure,
  json,
  notFound,
  ollamaFields,
  ollamaModel,
  openAiCompletion,
  promptOf,
  readBody,
  sendError,
  type Api,
} from './wire.js';
import { LlmFaults, type LlmFaultKind } from './faults.js';

export interface LlmSimulatorOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Models the server has, as `GET /api/tags` lists them. */
  models: string[];
  /** Generations served at once (OLLAMA_NUM_PARALLEL); the others wait in line. */
  parallel: number;
  /** Requests that may wait in line; beyond, 503 (OLLAMA_MAX_QUEUE). */
  maxQueue: number;
  /** When set, /v1 requests need `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
}

/** One request as the simulator saw it, for tests (never the API key itself). */
export interface RecordedRequest {
  at: number;
  method: string;
  path: string;
  /** HTTP status; 0 while in progress or when no answer was sent (drop, client gone). */
  status: number;
  /** in-progress, ok, or the fault or error that answered it. */
  outcome: string;
  model?: string;
  stream?: unknown;
  /** Ollama `format` / OpenAI `response_format`: a schema, plain json, or none. */
  format?: 'schema' | 'json' | 'none';
  keepAlive?: unknown;
  options?: unknown;
  maxTokens?: unknown;
  temperature?: unknown;
  authorized?: boolean;
}

const MAX_RECORDED = 1000;

/**
 * An Ollama server (GET /, /api/tags, /api/version; POST /api/show, /api/chat, /api/generate)
 * and an OpenAI-compatible one (GET /v1/models, POST /v1/chat/completions) on one port, as
 * Ollama itself serves both. Answers are scripted diagnoses derived from the prompt; faults come
 * from `faults` (CLI flags and the control API).
 */
export class LlmSimulator {
  readonly faults = new LlmFaults();
  private readonly recorded: RecordedRequest[] = [];
  private total = 0;
  private server?: Server;
  private loaded = false;
  private active = 0;
  private readonly line: Array<() => void> = [];
  private busyRefusals = 0;

  constructor(
    readonly options: LlmSimulatorOptions,
    private readonly log: Logger,
  ) {}

  async start(): Promise<number> {
    const server = createServer((req, res) => this.handle(req, res));
    this.server = server;
    const port = await listenOn(server, this.options.port, this.options.host);
    server.on('error', (err) => this.log.error({ err }, 'LLM simulator server error'));
    return port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** The next generation waits coldLoadMs again, as after Ollama unloaded the model. */
  unload(): void {
    this.loaded = false;
  }

  requests(): RecordedRequest[] {
    return [...this.recorded];
  }

  clearRequests(): void {
    this.recorded.length = 0;
  }

  stats() {
    return {
      requests: this.total,
      generating: this.active,
      waiting: this.line.length,
      busyRefusals: this.busyRefusals,
      loaded: this.loaded,
      models: this.options.models,
      faults: this.faults.applied,
    };
  }

  private record(entry: RecordedRequest): void {
    this.total += 1;
    if (this.recorded.length >= MAX_RECORDED) this.recorded.shift();
    this.recorded.push(entry);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    // Recorded on arrival, so a test sees a request the simulator is still working on.
    const entry: RecordedRequest = {
      at: Date.now(),
      method: req.method ?? '',
      path,
      status: 0,
      outcome: 'in-progress',
    };
    this.record(entry);
    this.route(req, res, path, entry)
      .then(() => {
        if (entry.outcome === 'in-progress') entry.outcome = 'ok';
        if (entry.status === 0 && res.headersSent) entry.status = res.statusCode;
      })
      .catch((err: unknown) => {
        const failure = err instanceof HttpFailure ? err : new HttpFailure(500, String(err));
        entry.status = failure.status;
        entry.outcome = failure.outcome;
        if (!res.headersSent) sendError(res, path.startsWith('/v1/') ? 'openai' : 'chat', failure);
        else res.end();
      });
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    entry: RecordedRequest,
  ): Promise<void> {
    const route = `${req.method} ${path}`;
    switch (route) {
      case 'GET /':
      case 'HEAD /':
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        return void res.end('Ollama is running');
      case 'GET /api/version':
        return json(res, 200, { version: '0.12.0-factorylm-sim' });
      case 'GET /api/tags':
        return json(res, 200, { models: this.options.models.map(ollamaModel) });
      case 'POST /api/show': {
        const body = await readBody(req, 'chat');
        const model = String(body.model ?? body.name ?? '');
        entry.model = model;
        if (!this.options.models.includes(model)) throw notFound(model, 'chat');
        return json(res, 200, {
          modelfile: `FROM ${model}`,
          parameters: 'stop "<|eot_id|>"',
          details: ollamaModel(model).details,
          capabilities: ['completion', 'tools'],
        });
      }
      case 'GET /v1/models':
        this.authorize(req, entry);
        return json(res, 200, {
          object: 'list',
          data: this.options.models.map((id) => ({
            id,
            object: 'model',
            created: 1_700_000_000,
            owned_by: 'library',
          })),
        });
      case 'POST /api/chat':
        return this.generate('chat', req, res, entry);
      case 'POST /api/generate':
        return this.generate('generate', req, res, entry);
      case 'POST /v1/chat/completions':
        this.authorize(req, entry);
        return this.generate('openai', req, res, entry);
      default:
        // Go's net/http answers unknown paths with this plain text.
        entry.status = 404;
        entry.outcome = 'no-route';
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        return void res.end('404 page not found');
    }
  }

  private authorize(req: IncomingMessage, entry: RecordedRequest): void {
    const key = this.options.apiKey;
    entry.authorized = key === undefined || req.headers.authorization === `Bearer ${key}`;
    if (!entry.authorized) throw new HttpFailure(401, 'Incorrect API key provided', 'unauthorized');
  }

  private async generate(
    api: Api,
    req: IncomingMessage,
    res: ServerResponse,
    entry: RecordedRequest,
  ): Promise<void> {
    const body = await readBody(req, api);
    const model = typeof body.model === 'string' ? body.model : '';
    entry.model = model;
    entry.stream = body.stream;
    entry.format = formatKind(api === 'openai' ? body.response_format : body.format, api);
    entry.keepAlive = body.keep_alive;
    entry.options = body.options;
    entry.maxTokens = body.max_tokens;
    entry.temperature =
      api === 'openai'
        ? body.temperature
        : (body.options as { temperature?: unknown })?.temperature;
    if (!model) throw new HttpFailure(400, 'model is required', 'bad-request');
    const prompt = promptOf(api, body);
    const fault = this.faults.next();
    if (fault === 'not-found' || !this.options.models.includes(model)) throw notFound(model, api);
    if (!(await this.enter())) {
      this.busyRefusals += 1;
      throw new HttpFailure(
        503,
        'server busy, please try again.  maximum pending requests exceeded',
        'busy',
      );
    }
    // Ollama cancels a generation whose client went away; so does the simulator.
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    try {
      if (!this.loaded && this.faults.settings.coldLoadMs > 0)
        await sleep(this.faults.settings.coldLoadMs, gone.signal);
      if (!gone.signal.aborted) this.loaded = true;
      if (this.faults.settings.delayMs > 0) await sleep(this.faults.settings.delayMs, gone.signal);
      if (gone.signal.aborted) {
        entry.outcome = 'client-gone';
        return;
      }
      this.answer(api, model, body, prompt, fault, entry, res);
    } finally {
      this.leave();
    }
  }

  private answer(
    api: Api,
    model: string,
    body: Record<string, unknown>,
    prompt: string,
    fault: LlmFaultKind | null,
    entry: RecordedRequest,
    res: ServerResponse,
  ): void {
    if (fault === 'busy')
      throw new HttpFailure(
        503,
        'server busy, please try again.  maximum pending requests exceeded',
        'busy',
      );
    if (fault === 'error')
      throw new HttpFailure(500, 'llama runner process has terminated: signal: killed', 'error');
    if (fault === 'drop') {
      entry.outcome = 'drop';
      res.socket?.destroy();
      return;
    }
    const diagnosis = simulatedDiagnosis(prompt);
    const structured = entry.format !== 'none';
    let content = structured ? JSON.stringify(diagnosis) : proseAnswer(diagnosis);
    let reason: 'stop' | 'length' = 'stop';
    let thinking: string | undefined;
    const limit = Number(
      api === 'openai' ? body.max_tokens : (body.options as { num_predict?: unknown })?.num_predict,
    );
    if (fault === 'malformed') content = content.slice(0, Math.floor(content.length * 0.6));
    if (fault === 'truncated' || (limit > 0 && tokens(content) > limit)) {
      content = content.slice(
        0,
        fault === 'truncated' ? Math.floor(content.length / 2) : limit * 4,
      );
      reason = 'length';
    }
    if (fault === 'thinking') {
      thinking = `Okay, the alarm says ${prompt.slice(0, 80)}... let me think about the likely causes.`;
      content = '';
    }
    entry.outcome = fault ?? (reason === 'length' ? 'length' : 'ok');
    if (api === 'openai')
      return json(res, 200, openAiCompletion(model, prompt, content, reason, thinking));
    const fields = ollamaFields(prompt, content);
    const text =
      api === 'chat'
        ? { message: { role: 'assistant', content, ...(thinking ? { thinking } : {}) } }
        : { response: content, ...(thinking ? { thinking } : {}) };
    if (body.stream === false)
      return json(res, 200, {
        model,
        created_at: new Date().toISOString(),
        ...text,
        done: true,
        done_reason: reason,
        ...fields,
      });
    // Streaming is Ollama's default: NDJSON chunks, then a final one with done:true.
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    for (let i = 0; i < content.length; i += 16) {
      const piece = content.slice(i, i + 16);
      const chunk =
        api === 'chat' ? { message: { role: 'assistant', content: piece } } : { response: piece };
      res.write(
        `${JSON.stringify({ model, created_at: new Date().toISOString(), ...chunk, done: false })}\n`,
      );
    }
    const last =
      api === 'chat' ? { message: { role: 'assistant', content: '' } } : { response: '' };
    res.end(
      `${JSON.stringify({ model, created_at: new Date().toISOString(), ...last, done: true, done_reason: reason, ...fields })}\n`,
    );
  }

  /** Waits for a generation slot; false when the line is full. */
  private async enter(): Promise<boolean> {
    if (this.active < this.options.parallel) {
      this.active += 1;
      return true;
    }
    if (this.line.length >= this.options.maxQueue) return false;
    await new Promise<void>((resolve) => this.line.push(resolve));
    return true;
  }

  private leave(): void {
    const next = this.line.shift();
    if (next) next();
    else this.active -= 1;
  }
}
