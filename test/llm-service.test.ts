import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sampleContext } from '../maintenance/llm/client.js';
import { llmConfigSchema, type LlmConfig } from '../maintenance/llm/config.js';
import type { DiagnosisContext } from '../maintenance/llm/diagnosis.js';
import { OllamaClient } from '../maintenance/llm/ollama.js';
import { DiagnosisService, type DiagnosisResult } from '../maintenance/llm/service.js';
import { silentLogger } from '../core/logger.js';
import { startLlmSim, type LlmSim } from './support/llm-sim.js';
import { waitFor } from './support/wait.js';

let sim: LlmSim;
let service: DiagnosisService | undefined;

beforeAll(async () => {
  sim = await startLlmSim();
});

afterAll(async () => {
  await sim?.stop();
});

beforeEach(async () => {
  await sim.clearFaults();
  await sim.clearRequests();
});

afterEach(async () => {
  await service?.stop();
  service = undefined;
});

function start(patch: Record<string, unknown> = {}): DiagnosisService {
  const config: LlmConfig = llmConfigSchema.parse({
    url: sim.url,
    timeoutMs: 30_000,
    retry: { attempts: 3, initialMs: 50, maxMs: 200 },
    breaker: { failures: 3, resetMs: 60_000 },
    ...patch,
  });
  service = new DiagnosisService(config, new OllamaClient(config), silentLogger, {
    random: () => 0.5,
  });
  return service;
}

const alarm = (asset = 'conveyor1', text = 'error_code = 1: motor overload'): DiagnosisContext => ({
  ...sampleContext(),
  asset,
  text,
});

describe('DiagnosisService against the simulator', () => {
  it('answers from the LLM', async () => {
    const r = await start().request(alarm()).result;
    expect(r).toMatchObject({ source: 'llm', model: 'llama3.2:3b', attempts: 1, batched: 1 });
    expect(r.text).toMatch(
      /^Diagnosis \(LLM llama3\.2:3b, [\d.]+ s; verify before acting\)\nLikely motor overload on conveyor1/,
    );
    expect(service!.stats()).toMatchObject({
      requests: 1,
      llmRequests: 1,
      answered: 1,
      templated: 0,
    });
    expect(service!.stats().latency.count).toBe(1);
  });

  it('slow beyond waitMs: nothing at waitMs, the LLM answer still arrives later', async () => {
    await sim.setFaults({ delayMs: 2000 });
    const waitMs = 300;
    const { result } = start({ waitMs }).request(alarm());
    // What the bridge does: wait up to waitMs, then create the order with "diagnosis pending".
    const early = await Promise.race([
      result,
      new Promise((r) => setTimeout(() => r('pending'), waitMs)),
    ]);
    expect(early).toBe('pending');
    expect((await result).source).toBe('llm');
  });

  it('404: a configuration error, not retried; later alarms get the template without asking', async () => {
    await sim.setFaults({ fault: 'not-found' });
    const s = start();
    const first = await s.request(alarm()).result;
    expect(first).toMatchObject({ source: 'template', reason: 'config', attempts: 1 });
    expect(first.error).toContain('pull it with `ollama pull llama3.2:3b`');
    expect(first.text).toContain('the LLM llama3.2:3b did not answer: model llama3.2:3b not found');
    const more = await Promise.all([1, 2, 3, 4].map(() => s.request(alarm()).result));
    expect(more.map((r) => r.reason)).toEqual([
      'breaker-open',
      'breaker-open',
      'breaker-open',
      'breaker-open',
    ]);
    expect(await sim.generations()).toHaveLength(1);
    expect(s.stats()).toMatchObject({
      failures: { config: 1 },
      breaker: { state: 'open' },
      templated: 5,
    });
    expect(s.stats().configError).toContain('model llama3.2:3b not found');
  });

  it('503: backs off and succeeds', async () => {
    await sim.setFaults({ fault: 'busy', count: 2 });
    const r = await start().request(alarm()).result;
    expect(r).toMatchObject({ source: 'llm', attempts: 3 });
    expect((await sim.generations()).map((g) => g.status)).toEqual([503, 503, 200]);
    expect(service!.stats().failures.busy).toBe(2);
  });

  it('503 beyond retry.attempts: the template', async () => {
    await sim.setFaults({ fault: 'busy' });
    const r = await start({ retry: { attempts: 2, initialMs: 20, maxMs: 50 } }).request(alarm())
      .result;
    expect(r).toMatchObject({ source: 'template', reason: 'busy', attempts: 3 });
    expect(await sim.generations()).toHaveLength(3);
  });

  it.each([['malformed'], ['truncated'], ['thinking']] as const)(
    '%s output: one retry, then the LLM answer',
    async (fault) => {
      await sim.setFaults({ fault, count: 1 });
      const r = await start().request(alarm()).result;
      expect(r).toMatchObject({ source: 'llm', attempts: 2 });
    },
  );

  it.each([
    ['malformed', 'invalid'],
    ['truncated', 'truncated'],
    ['thinking', 'invalid'],
  ] as const)('%s output twice: the template after one retry', async (fault, kind) => {
    await sim.setFaults({ fault, count: 2 });
    const r = await start().request(alarm('press2', 'error_code = 3: conveyor jam')).result;
    expect(r).toMatchObject({ source: 'template', reason: kind, attempts: 2 });
    expect(r.diagnosis.probableCauses[0]!.cause).toBe('Product or debris blocking the belt');
    expect(await sim.generations()).toHaveLength(2);
  });

  it('the circuit opens after consecutive failures and closes after a successful probe', async () => {
    await sim.setFaults({ fault: 'error' });
    const s = start({ retry: { attempts: 0 }, breaker: { failures: 2, resetMs: 1500 } });
    for (const asset of ['a1', 'a2'])
      expect((await s.request(alarm(asset)).result).reason).toBe('busy');
    expect(s.stats().breaker).toEqual({ state: 'open', opened: 1 });
    const skipped = await s.request(alarm('a3')).result;
    expect(skipped).toMatchObject({ source: 'template', reason: 'breaker-open', attempts: 0 });
    expect(await sim.generations()).toHaveLength(2);
    await sim.clearFaults();
    await waitFor('half-open', () => s.stats().breaker.state === 'half-open', 20_000);
    expect((await s.request(alarm('a4')).result).source).toBe('llm');
    expect(s.stats().breaker).toEqual({ state: 'closed', opened: 1 });
  });

  it('a failed probe opens the circuit again', async () => {
    await sim.setFaults({ fault: 'error' });
    const s = start({ retry: { attempts: 0 }, breaker: { failures: 1, resetMs: 500 } });
    await s.request(alarm()).result;
    await waitFor('half-open', () => s.stats().breaker.state === 'half-open', 20_000);
    expect((await s.request(alarm()).result).reason).toBe('busy');
    expect(s.stats().breaker).toEqual({ state: 'open', opened: 2 });
  });

  it('the queue stays bounded under 200 alarms at once; every one gets a result', async () => {
    await sim.setFaults({ delayMs: 100 });
    const s = start({ queueMax: 20, maxBatch: 1 });
    let deepest = 0;
    const results: Promise<DiagnosisResult>[] = [];
    for (let i = 0; i < 200; i++) {
      results.push(s.request(alarm(`asset${i}`)).result);
      deepest = Math.max(deepest, s.stats().queueDepth);
    }
    expect(deepest).toBe(20);
    const all = await Promise.all(results);
    expect(all.filter((r) => r.source === 'llm')).toHaveLength(21);
    expect(all.filter((r) => r.reason === 'queue-full')).toHaveLength(179);
    await waitFor('idle', () => s.stats().inFlight === 0);
    expect(s.stats()).toMatchObject({ dropped: 179, queueDepth: 0, answered: 21 });
    expect(await sim.generations()).toHaveLength(21);
  });

  it('groups waiting alarms of one asset into one request', async () => {
    await sim.setFaults({ delayMs: 300 });
    const s = start({ maxBatch: 8 });
    const first = s.request(alarm('other')).result;
    const texts = ['error_code = 1: motor overload', 'fault_alarm = true', 'e_stop_active = true'];
    const grouped = texts.map((t) => s.request(alarm('conveyor1', t)).result);
    await first;
    const results = await Promise.all(grouped);
    expect(results.map((r) => [r.source, r.batched])).toEqual([
      ['llm', 3],
      ['llm', 3],
      ['llm', 3],
    ]);
    expect(results[0]!.diagnosis.summary).toContain('2 related alarm(s)');
    expect(await sim.generations()).toHaveLength(2);
    expect(s.stats().grouped).toBe(2);
  });

  it('stop: alarms in flight and waiting get the template at once', async () => {
    await sim.setFaults({ delayMs: 30_000 });
    const s = start();
    const results = [s.request(alarm('a')).result, s.request(alarm('b')).result];
    await waitFor('request in flight', async () => (await sim.generations()).length === 1);
    await s.stop();
    expect((await Promise.all(results)).map((r) => r.reason)).toEqual(['stopped', 'stopped']);
  });

  it('disabled: the template without asking', async () => {
    const r = await start({ enabled: false }).request(alarm()).result;
    expect(r).toMatchObject({ source: 'template', reason: 'disabled', attempts: 0 });
    expect(await sim.generations()).toHaveLength(0);
  });
});
