import { InvalidArgumentError, type Command } from 'commander';
import { exitWithError } from './run.js';

interface GatewayOptions {
  gateway: string;
  token?: string;
  json?: boolean;
}

interface AlarmRow {
  key: string;
  state: string;
  severity: string;
  priority: string;
  text: string;
  shelved: { untilMs: number; by: string; reason: string } | null;
  suppressed: boolean;
  occurrences: number;
  raisedAt: number | null;
  workOrder?: { id: number; customId?: string; url: string; open: boolean };
}

/** One call to the gateway's alarm API; an error answer becomes an Error with its message. */
async function call(
  opts: GatewayOptions,
  path: string,
  body?: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const token = opts.token ?? process.env.FACTORYLM_TOKEN;
  const url = `${opts.gateway.replace(/\/$/, '')}${path}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: body ? 'POST' : 'GET',
      headers: {
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    throw new Error(
      `cannot reach the gateway at ${url} (${(err as Error).message}): check --gateway and that its http: section is on`,
      { cause: err },
    );
  }
  const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok)
    throw new Error(`${path}: HTTP ${res.status}: ${String(answer.error ?? res.statusText)}`);
  return answer;
}

function minutes(v: string): number {
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError(`--minutes must be a positive number, got "${v}"`);
  return n;
}

function table(rows: AlarmRow[]): string {
  if (rows.length === 0) return 'no alarms active or shelved';
  const lines = rows.map((a) => {
    const flags = [
      a.shelved
        ? `shelved until ${new Date(a.shelved.untilMs).toISOString()} by ${a.shelved.by}`
        : '',
      a.suppressed ? 'suppressed' : '',
      a.occurrences > 1 ? `${a.occurrences}×` : '',
    ]
      .filter(Boolean)
      .join(', ');
    const order = a.workOrder ? `${a.workOrder.customId ?? a.workOrder.id} ${a.workOrder.url}` : '';
    return [a.key, a.state, a.priority, a.text, flags, order].join('  |  ');
  });
  return ['key  |  state  |  priority  |  text  |  flags  |  work order', ...lines].join('\n');
}

export function registerAlarms(program: Command): void {
  const alarms = program
    .command('alarms')
    .description(
      "List, acknowledge and shelve the maintenance bridge's alarms on a running gateway",
    )
    .addHelpText(
      'after',
      [
        '',
        'Talks to the gateway HTTP API (its http: section): GET /api/alarms, POST /api/alarms/ack|shelve|unshelve|retry.',
        'Without a token configured there, the gateway takes POSTs only from its own machine.',
        '',
        'Examples:',
        '  factorylm alarms list --gateway http://127.0.0.1:8080',
        '  factorylm alarms shelve plant1/conveyor1/fault_alarm --minutes 60 --reason "belt replaced" --gateway http://gw:8080 --token $T',
        '  factorylm alarms ack plant1/conveyor1/error_code --by alice --gateway http://127.0.0.1:8080',
      ].join('\n'),
    );
  const withGateway = (cmd: Command) =>
    cmd
      .requiredOption('--gateway <url>', 'gateway HTTP address, e.g. http://127.0.0.1:8080')
      .option('--token <token>', 'bearer token of the gateway (or env FACTORYLM_TOKEN)');

  withGateway(alarms.command('list'))
    .description('alarms active, returned unacknowledged or shelved, with their work orders')
    .option('--all', 'every alarm the gateway tracks, normal ones too')
    .option('--json', 'print the API answer as JSON')
    .action(async (opts: GatewayOptions & { all?: boolean }) => {
      try {
        const answer = await call(opts, `/api/alarms${opts.all ? '?all' : ''}`);
        if (answer.enabled === false) throw new Error(String(answer.hint));
        if (opts.json) console.log(JSON.stringify(answer, null, 2));
        else {
          if (answer.active === false)
            console.log('(this gateway is a standby: another one holds the maintenance lease)');
          console.log(table(answer.alarms as AlarmRow[]));
        }
      } catch (err) {
        exitWithError(err);
      }
    });

  const act = (name: string, description: string) =>
    withGateway(alarms.command(`${name} <key>`))
      .description(description)
      .option('--by <name>', 'who acts (logged and shown)', process.env.USER ?? 'cli');

  act('ack', 'acknowledge an alarm (key <site>/<asset>/<rule>, see list)').action(
    async (key: string, opts: GatewayOptions & { by: string }) => {
      try {
        const r = await call(opts, '/api/alarms/ack', { key, by: opts.by });
        console.log(`${key}: ${String(r.state)}`);
      } catch (err) {
        exitWithError(err);
      }
    },
  );
  act('shelve', 'shelve an alarm for a while: it raises nothing until unshelved or expired')
    .requiredOption('--minutes <n>', 'how long', minutes)
    .option('--reason <text>', 'why (shown in list)', '')
    .action(
      async (
        key: string,
        opts: GatewayOptions & { by: string; minutes: number; reason: string },
      ) => {
        try {
          await call(opts, '/api/alarms/shelve', {
            key,
            by: opts.by,
            minutes: opts.minutes,
            reason: opts.reason,
          });
          console.log(`${key}: shelved for ${opts.minutes} min`);
        } catch (err) {
          exitWithError(err);
        }
      },
    );
  act('unshelve', 'end a shelve now').action(
    async (key: string, opts: GatewayOptions & { by: string }) => {
      try {
        const r = await call(opts, '/api/alarms/unshelve', { key, by: opts.by });
        console.log(`${key}: ${String(r.state)}`);
      } catch (err) {
        exitWithError(err);
      }
    },
  );
  withGateway(alarms.command('retry'))
    .description('retry CMMS actions parked after a permanent refusal (licence, unknown asset)')
    .action(async (opts: GatewayOptions) => {
      try {
        await call(opts, '/api/alarms/retry', {});
        console.log('parked actions are being retried');
      } catch (err) {
        exitWithError(err);
      }
    });
}
