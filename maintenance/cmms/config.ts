import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { stateFileField } from '../../core/config/state-file.js';
import { errorMessage } from '../../core/errors.js';
import { stateFile } from '../../core/state-dir.js';

const timeouts = {
  connectTimeoutMs: z
    .int()
    .min(100)
    .default(5000)
    .describe('Longest wait for the TCP/TLS connection, ms; a server that is down fails this fast'),
  timeoutMs: z
    .int()
    .min(500)
    .default(30_000)
    .describe(
      'Longest wait for one whole request, ms; a create that times out after being sent is reconciled by a search, never re-posted',
    ),
};

const outboxSchema = (file: string) =>
  z
    .strictObject({
      path: stateFileField(
        'of the durable outbox of actions',
        file,
        '; :memory: is lost on restart',
      ),
      maxBytes: z
        .int()
        .min(100_000)
        .default(64 * 1024 * 1024)
        .describe(
          'Disk the outbox may use, bytes; beyond it the oldest actions are dropped and counted',
        ),
      maxAgeMs: z
        .int()
        .min(60_000)
        .default(7 * 24 * 3600 * 1000)
        .describe('Actions waiting longer than this are dropped and counted, ms'),
    })
    .prefault({})
    .describe(
      'Durable outbox: every action is committed here first and delivered in order per alarm key',
    );

const delivery = {
  retryMaxMs: z
    .int()
    .min(100)
    .max(3_600_000)
    .default(60_000)
    .describe(
      'Longest wait between attempts while the server is down or busy (jittered backoff from 1 s), ms',
    ),
  permanentRetryMs: z
    .int()
    .min(1000)
    .default(15 * 60_000)
    .describe(
      'An action refused for good (licence limit, validation) is parked and tried again only after this long, or when the operator asks, ms',
    ),
};

/** Exactly one of `<name>File` / `<name>Env`: a secret never sits in the config itself. */
function secretRefine(name: 'password' | 'secret') {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const given = [`${name}File`, `${name}Env`].filter((k) => value[k] !== undefined);
    if (given.length !== 1)
      ctx.addIssue({
        code: 'custom',
        path: [`${name}File`],
        message: `set exactly one of ${name}File (a file holding the ${name}) or ${name}Env (the name of an environment variable holding it)`,
      });
  };
}

export const assetRefSchema = z
  .strictObject({
    name: z.string().min(1).optional().describe('Asset name in Atlas'),
    customId: z
      .string()
      .min(1)
      .optional()
      .describe('Asset ID shown in Atlas (customId, e.g. A000012)'),
    barCode: z
      .string()
      .min(1)
      .optional()
      .describe('Asset barcode; looking it up needs an Atlas licence (NFC_BARCODE)'),
  })
  .refine((a) => [a.name, a.customId, a.barCode].filter(Boolean).length === 1, {
    message: 'give exactly one of name, customId or barCode',
  });

export const cmmsConfigSchema = z
  .strictObject({
    url: z
      .url({ error: 'must be a URL such as http://atlas.plant.local:8080' })
      .describe('Atlas CMMS API base URL (the api container, not the web front end)'),
    frontendUrl: z
      .url({ error: 'must be a URL such as http://atlas.plant.local:3000' })
      .optional()
      .describe(
        'Atlas web front end, for links to work orders (<frontendUrl>/app/work-orders/<id>); default: url',
      ),
    email: z
      .string()
      .min(3)
      .describe("Service account (a user of the plant's company) that signs in"),
    passwordFile: z
      .string()
      .min(1)
      .optional()
      .describe('File holding the service account password'),
    passwordEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .optional()
      .describe('Environment variable holding the service account password'),
    ...timeouts,
    rateLimit: z
      .strictObject({
        requestsPerMinute: z
          .int()
          .min(1)
          .default(90)
          .describe('Requests sent per minute at most; Atlas refuses more than 100 per user (429)'),
        maxRetries: z
          .int()
          .min(0)
          .max(20)
          .default(5)
          .describe('Waits after a 429 before the request counts as a transient failure'),
      })
      .prefault({})
      .describe("Client-side rate limit, below the server's"),
    assets: z
      .record(z.string().min(1), assetRefSchema)
      .default({})
      .describe(
        "How an alarm's asset is found in Atlas, by asset name of this project; assets not listed are matched by the same name",
      ),
    createAssets: z
      .boolean()
      .default(false)
      .describe('Create an asset in Atlas when none matches (the free tier allows 50)'),
    closeOnClear: z
      .boolean()
      .default(false)
      .describe(
        'When the alarm clears, set its work order COMPLETE; false adds a comment "cleared at …" and leaves closing to the technician',
      ),
    reconcileDelayMs: z
      .int()
      .min(0)
      .default(10_000)
      .describe(
        'After a create whose answer never came, wait this long before the search that decides whether it happened, ms: a slow server may still be saving it',
      ),
    outbox: outboxSchema('cmms-outbox-<name>.db'),
    ...delivery,
  })
  .superRefine(secretRefine('password'))
  .describe('Atlas CMMS: one work order per alarm, through a durable outbox');

export const webhookConfigSchema = z
  .strictObject({
    url: z
      .url({ error: 'must be a URL such as http://127.0.0.1:5678/webhook/factorylm' })
      .describe(
        'Endpoint that receives every action as a signed JSON POST (n8n Webhook node or any HTTP flow)',
      ),
    secretFile: z
      .string()
      .min(1)
      .optional()
      .describe('File holding the HMAC-SHA256 signing secret'),
    secretEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .optional()
      .describe('Environment variable holding the HMAC-SHA256 signing secret'),
    ...timeouts,
    outbox: outboxSchema('webhook-outbox-<name>.db'),
    ...delivery,
  })
  .superRefine(secretRefine('secret'))
  .describe(
    'Generic webhook target: each action POSTed as JSON with an X-FactoryLM-Signature header',
  );

export type CmmsConfig = z.output<typeof cmmsConfigSchema>;
export type WebhookConfig = z.output<typeof webhookConfigSchema>;

/** Where an outbox goes when the config names no path: `<kind>-outbox-<gateway name>.db` in the state dir. */
export function defaultOutboxPath(kind: 'cmms' | 'webhook', name: string): string {
  return stateFile(`${kind}-outbox-${name}.db`);
}

/**
 * Reads a secret named by config: a file (trailing newline dropped) or an environment variable.
 * `where` is the config section for the error (`maintenance.cmms`).
 */
export async function readSecret(
  ref: { file?: string; env?: string },
  where: string,
  what: 'password' | 'secret',
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  if (ref.file !== undefined) {
    let text: string;
    try {
      text = await readFile(ref.file, 'utf8');
    } catch (err) {
      throw new Error(
        `${where}.${what}File: cannot read ${ref.file} (${errorMessage(err)}); create it, readable by this service, holding only the ${what}`,
        { cause: err },
      );
    }
    const value = text.replace(/\r?\n$/, '');
    if (value === '')
      throw new Error(`${where}.${what}File: ${ref.file} is empty; write the ${what} in it`);
    return value;
  }
  if (ref.env !== undefined) {
    const value = env[ref.env];
    if (value === undefined || value === '')
      throw new Error(
        `${where}.${what}Env: environment variable ${ref.env} is not set; export it before starting`,
      );
    return value;
  }
  throw new Error(`${where}: set ${what}File or ${what}Env`);
}
