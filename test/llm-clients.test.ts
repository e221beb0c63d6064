import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sampleContext } from '../maintenance/llm/client.js';
import { llmConfigSchema, type LlmConfig } from '../maintenance/llm/config.js';
import { LlmError, type LlmErrorKind } from '../maintenance/llm/errors.js';
import { createLlmClient } from '../maintenance/llm/factory.js';
import { OllamaClient } from '../maintenance/llm/ollama.js';
import { OpenAiClient } from '../maintenance/llm/openai.js';
import { startLlmSim, type LlmSim } from './support/llm-sim.js';
import { freePort, runCli } from './support/processes.js';
import { testDir } from './support/temp.js';

let sim: LlmSim;

beforeAll(async () => {
  sim = await startLlmSim(['--model', 'llama3.2:3b', '--model', 'qwen3:4b']);
});

afterAll(async () => {
  await sim?.stop();
});

beforeEach(async () => {
  await sim.clearFaults();
  await sim.clearRequests();
});

const config = (patch: Partial<LlmConfig> = {}): LlmConfig =>
  llmConfigSchema.parse({ url: sim.url, timeoutMs: 20_000, ...patch });

const jam = { ...sampleContext(), text: 'error_code = 3: conveyor jam' };

async function kindOf(p: Promise<unknown>): Promise<LlmErrorKind | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof LlmError) return err.kind;
    throw err;
  }
}

const clients = [
  ['ollama /api/chat', () => new OllamaClient(config())],
  ['ollama /api/generate', () => new OllamaClient(config({ endpoint: 'generate' }))],
  ['openai /v1/chat/completions', () => new OpenAiClient(config({ api: 'openai' }))],
] as const;

describe.each(clients)('%s against the simulator', (_name, make) => {
  it('gets a diagnosis of the fault in the prompt, asking for structured output without streaming', async () => {
    const d = await make().diagnose(jam);
    expect(d.summary).toContain('conveyor jam on conveyor1');
    expect(d.probableCauses[0]!.cause).toBe('Product or debris blocking the belt');
    const [req] = await sim.generations();
    expect(req).toMatchObject({
      model: 'llama3.2:3b',
      stream: false,
      format: 'schema',
      temperature: 0,
    });
    if (req!.path.startsWith('/api/')) {
      expect(req).toMatchObject({
        keepAlive: '30m',
        options: { temperature: 0, num_predict: 1024, num_ctx: 4096 },
      });
    } else {
      expect(req!.maxTokens).toBe(1024);
    }
  });

  it.each<[string, object, LlmErrorKind]>([
    ['404 model not found', { fault: 'not-found' }, 'config'],
    ['503 busy', { fault: 'busy' }, 'busy'],
    ['500', { fault: 'error' }, 'busy'],
    ['malformed JSON', { fault: 'malformed' }, 'invalid'],
    ['truncated output', { fault: 'truncated' }, 'truncated'],
    ['a thinking-only answer', { fault: 'thinking' }, 'invalid'],
    ['a dropped connection', { fault: 'drop' }, 'busy'],
  ])('classifies %s', async (_fault, patch, kind) => {
    await sim.setFaults(patch);
    expect(await kindOf(make().diagnose(jam))).toBe(kind);
    expect(await sim.generations()).toHaveLength(1);
  });

  it('passes the check: reachable, model present, one timed diagnosis', async () => {
    const result = await make().check();
    expect(result.steps.map((s) => [s.name, s.ok])).toEqual([
      ['reachable', true],
      ['model', true],
      ['diagnosis', true],
    ]);
    expect(result.steps[2]!.ms).toBeGreaterThan(0);
  });
});

describe('Ollama specifics', () => {
  it('a model the server does not have is a configuration error naming the fix', async () => {
    const err = await new OllamaClient(config({ model: 'mistral:7b' }))
      .diagnose(jam)
      .catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      "model mistral:7b not found (HTTP 404: model 'mistral:7b' not found); pull it with `ollama pull mistral:7b` or fix maintenance.llm.model",
    );
  });

  it('answers a request without stream:false as an NDJSON stream, which the client would not accept', async () => {
    const res = await fetch(`${sim.url}/api/chat`, {
      method: 'POST',
      body: JSON.stringify({
        model: 'llama3.2:3b',
        messages: [{ role: 'user', content: 'Alarm text: motor overload' }],
      }),
    });
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { done: boolean; done_reason?: string });
    expect(lines.length).toBeGreaterThan(2);
    expect(lines.slice(0, -1).every((l) => !l.done)).toBe(true);
    expect(lines.at(-1)).toMatchObject({ done: true, done_reason: 'stop' });
  });

  it('num_predict smaller than the answer truncates it (done_reason length)', async () => {
    const client = new OllamaClient(config({ numPredict: 64 }));
    expect(await kindOf(client.diagnose(jam))).toBe('truncated');
  });

  it('waits through a cold model load longer than the connect timeout', async () => {
    await sim.setFaults({ coldLoadMs: 1500 });
    const d = await new OllamaClient(config({ connectTimeoutMs: 200 })).diagnose(jam);
    expect(d.suggestedPriority).toBe('MEDIUM');
  });

  it('gives up at timeoutMs with a timeout error', async () => {
    await sim.setFaults({ delayMs: 5000 });
    expect(await kindOf(new OllamaClient(config({ timeoutMs: 1000 })).diagnose(jam))).toBe(
      'timeout',
    );
  });

  it('a server that is not running fails at once as busy, saying so', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const err = await new OllamaClient(config({ url })).diagnose(jam).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmError);
    expect((err as LlmError).kind).toBe('busy');
    expect((err as Error).message).toContain('refused; is the LLM server running?');
  });

  it('stops at once when the caller aborts', async () => {
    await sim.setFaults({ delayMs: 10_000 });
    const ac = new AbortController();
    const p = new OllamaClient(config()).diagnose(jam, ac.signal);
    setTimeout(() => ac.abort(new Error('stopping')), 100);
    await expect(p).rejects.toThrow('stopping');
  });

  it('check reports a missing model with what the server has', async () => {
    const result = await new OllamaClient(config({ model: 'mistral:7b' })).check();
    expect(result.ok).toBe(false);
    expect(result.steps.at(-1)).toMatchObject({ name: 'model', ok: false });
    expect(result.steps.at(-1)!.detail).toContain(
      'the server has llama3.2:3b, qwen3:4b; pull it with `ollama pull mistral:7b`',
    );
  });
});

describe('OpenAI API key', () => {
  let keyed: LlmSim;
  const dir = testDir('llm-key-');
  beforeAll(async () => {
    keyed = await startLlmSim(['--api-key-env', 'SIM_LLM_KEY'], { SIM_LLM_KEY: 'sk-test-123' });
  });
  afterAll(async () => {
    await keyed?.stop();
  });

  it('sends the key from a file as a bearer token', async () => {
    writeFileSync(join(dir, 'key'), 'sk-test-123\n');
    const client = await createLlmClient(
      llmConfigSchema.parse({
        api: 'openai',
        url: `${keyed.url}/v1`,
        apiKeyFile: join(dir, 'key'),
      }),
    );
    expect((await client.diagnose(jam)).summary).toContain('conveyor jam');
    expect((await keyed.generations()).at(-1)!.authorized).toBe(true);
  });

  it('a wrong key is a configuration error that names the setting, not the key', async () => {
    const client = await createLlmClient(
      llmConfigSchema.parse({ api: 'openai', url: keyed.url, apiKeyEnv: 'WRONG_KEY' }),
      { WRONG_KEY: 'sk-wrong' },
    );
    const err = (await client.diagnose(jam).catch((e: unknown) => e)) as LlmError;
    expect(err.kind).toBe('config');
    expect(err.message).toContain('check maintenance.llm.apiKeyFile or apiKeyEnv');
    expect(err.message).not.toContain('sk-wrong');
  });

  it('a missing key file is a configuration error naming the file', async () => {
    await expect(
      createLlmClient(llmConfigSchema.parse({ api: 'openai', apiKeyFile: join(dir, 'absent') })),
    ).rejects.toThrow(`maintenance.llm.apiKeyFile: cannot read ${join(dir, 'absent')}`);
  });
});

describe('factorylm llm check', () => {
  it('prints ✔ for each step and exits 0', async () => {
    const { code, stdout } = await runCli(['llm', 'check', '--url', sim.url]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^✔ reachable: .* answers \(2 model\(s\)\)/m);
    expect(stdout).toMatch(/^✔ model: model llama3\.2:3b present$/m);
    expect(stdout).toMatch(
      /^✔ diagnosis: sample diagnosis: Likely motor overload on conveyor1 .*\(\d+ ms\)$/m,
    );
  });

  it('reads maintenance.llm from a gateway config; flags override it', async () => {
    const dir = testDir('llm-check-');
    const file = join(dir, 'gateway.yaml');
    writeFileSync(
      file,
      `mqtt:\n  url: mqtt://127.0.0.1:1883\nmaintenance:\n  llm:\n    url: ${sim.url}\n    api: openai\n    model: qwen3:4b\n`,
    );
    const ok = await runCli(['llm', 'check', '--config', file]);
    expect(ok.stdout).toContain(`checking openai ${sim.url} model qwen3:4b`);
    expect(ok.code).toBe(0);
    const bad = await runCli(['llm', 'check', '--config', file, '--model', 'absent:1b']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(
      /^✖ model: model absent:1b not found; the server has llama3\.2:3b, qwen3:4b/m,
    );
  });

  it('exits 1 with ✖ when the diagnosis fails', async () => {
    await sim.setFaults({ fault: 'thinking' });
    const { code, stdout } = await runCli(['llm', 'check', '--url', sim.url]);
    expect(code).toBe(1);
    expect(stdout).toMatch(
      /^✖ diagnosis: the model only wrote its thinking .*set maintenance\.llm\.think: false/m,
    );
  });

  it('names a bad config value with its path', async () => {
    const dir = testDir('llm-check-');
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, 'maintenance:\n  llm:\n    api: claude\n');
    const { code, stderr } = await runCli(['llm', 'check', '--config', file]);
    expect(code).toBe(2);
    expect(stderr).toContain('maintenance.llm.api');
  });
});
