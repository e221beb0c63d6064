import { InvalidArgumentError, type Command } from 'commander';
import { createRootLogger } from '../core/logger.js';
import { CONTROL_ROUTES, startLlmControl } from '../simulators/llm/control.js';
import { LLM_FAULT_KINDS, type LlmFaultKind } from '../simulators/llm/faults.js';
import { LlmSimulator } from '../simulators/llm/server.js';
import { exitWithError, parseIntOption, runUntilSignal } from './run.js';

interface SimLlmOptions {
  port: number;
  host: string;
  model: string[];
  parallel: number;
  maxQueue: number;
  apiKeyEnv?: string;
  delay: number;
  coldLoad: number;
  fault?: LlmFaultKind;
  faultCount?: number;
  controlPort?: number;
}

function faultOption(v: string): LlmFaultKind {
  if (!(LLM_FAULT_KINDS as readonly string[]).includes(v))
    throw new InvalidArgumentError(`"${v}" is not one of ${LLM_FAULT_KINDS.join(', ')}`);
  return v as LlmFaultKind;
}

export function registerSimLlm(sim: Command): void {
  sim
    .command('llm')
    .description(
      'Serve a simulated maintenance LLM: the Ollama API and the OpenAI-compatible API on one port, with scripted diagnoses and faults',
    )
    .option('-p, --port <n>', 'TCP port (Ollama uses 11434)', parseIntOption('--port'), 11434)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option(
      '--model <name>',
      'a model the server has (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [],
    )
    .option(
      '--parallel <n>',
      'generations at once (OLLAMA_NUM_PARALLEL)',
      parseIntOption('--parallel'),
      1,
    )
    .option(
      '--max-queue <n>',
      'requests waiting beyond that; more get 503 (OLLAMA_MAX_QUEUE)',
      parseIntOption('--max-queue'),
      512,
    )
    .option(
      '--api-key-env <name>',
      'require this environment variable as bearer API key on /v1 requests',
    )
    .option('--delay <ms>', 'fault: delay every answer', parseIntOption('--delay'), 0)
    .option(
      '--cold-load <ms>',
      'fault: the first generation waits this long (model loading)',
      parseIntOption('--cold-load'),
      0,
    )
    .option(`--fault <kind>`, `fault: ${LLM_FAULT_KINDS.join('|')}`, faultOption)
    .option(
      '--fault-count <n>',
      'fault: apply --fault to this many requests only (default: all)',
      parseIntOption('--fault-count'),
    )
    .option(
      '--control-port <n>',
      'HTTP control API on 127.0.0.1 (faults, recorded requests, stats)',
      parseIntOption('--control-port'),
    )
    .addHelpText(
      'after',
      `
Ollama: GET /, GET /api/tags, GET /api/version, POST /api/show, POST /api/chat,
POST /api/generate (stream defaults to true: NDJSON chunks, as Ollama does; send
"stream": false for one JSON answer). OpenAI-compatible: GET /v1/models,
POST /v1/chat/completions. An unknown model gets 404 "model '<name>' not found".
Answers are diagnoses of the fault named in the prompt (Micro 820 error texts);
with a JSON schema in format/response_format they are JSON, without it prose.

Faults: not-found (404), busy (503), error (500), malformed (broken JSON),
truncated (done_reason/finish_reason "length"), thinking (empty content, text in
thinking/reasoning_content), drop (connection closed without an answer).

Control API (--control-port): ${CONTROL_ROUTES}.
  curl -X PUT localhost:8434/faults -d '{"fault":"busy","count":2}'
  curl localhost:8434/requests

Examples:
  factorylm sim llm
  factorylm sim llm --port 11435 --model llama3.2:3b --cold-load 20000 --control-port 8434
  factorylm sim llm --fault truncated --fault-count 1`,
    )
    .action(async (opts: SimLlmOptions) => {
      const log = createRootLogger();
      const models = opts.model.length > 0 ? opts.model : ['llama3.2:3b'];
      let apiKey: string | undefined;
      if (opts.apiKeyEnv) {
        apiKey = process.env[opts.apiKeyEnv];
        if (!apiKey) exitWithError(new Error(`--api-key-env: ${opts.apiKeyEnv} is not set`));
      }
      const sim = new LlmSimulator(
        {
          host: opts.host,
          port: opts.port,
          models,
          parallel: Math.max(1, opts.parallel),
          maxQueue: opts.maxQueue,
          ...(apiKey ? { apiKey } : {}),
        },
        log.child({ component: 'sim-llm' }),
      );
      sim.faults.set({
        delayMs: opts.delay,
        coldLoadMs: opts.coldLoad,
        fault: opts.fault ?? null,
        count: opts.faultCount ?? null,
      });
      const port = await sim.start().catch(exitWithError);
      console.log(
        `LLM simulator (Ollama + OpenAI API) on http://${opts.host}:${port} model ${models.join(', ')}`,
      );
      const control =
        opts.controlPort === undefined
          ? undefined
          : await startLlmControl(
              sim,
              '127.0.0.1',
              opts.controlPort,
              log.child({ component: 'sim-llm-control' }),
            ).catch(exitWithError);
      if (control) console.log(`control API on http://127.0.0.1:${control.port}`);
      await runUntilSignal(log, async () => {
        await control?.close();
        await sim.stop();
      });
    });
}
