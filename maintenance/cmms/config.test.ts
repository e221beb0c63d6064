import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfigFile, parseConfigText } from '../../core/config/load.js';
import { ConfigError } from '../../core/errors.js';
import { cmmsConfigSchema, readSecret, webhookConfigSchema } from './config.js';

const section = z.looseObject({
  maintenance: z.looseObject({ cmms: cmmsConfigSchema, webhook: webhookConfigSchema.optional() }),
});

describe('CMMS config', () => {
  it('loads the commented example in deploy/examples', async () => {
    const { maintenance } = await loadConfigFile('deploy/examples/maintenance-cmms.yaml', section);
    expect(maintenance.cmms).toMatchObject({
      url: 'http://atlas.plant.local:8080',
      passwordFile: '/etc/factorylm/atlas.password',
      assets: { Conveyor: { name: 'Conveyor Line 1' }, Press: { customId: 'A000012' } },
      rateLimit: { requestsPerMinute: 90, maxRetries: 5 },
      outbox: { maxBytes: 67108864 },
    });
    expect(maintenance.webhook).toMatchObject({
      secretEnv: 'FACTORYLM_WEBHOOK_SECRET',
      retryMaxMs: 60_000,
    });
  });

  it.each([
    [
      'no password source',
      'url: http://a:8080\nemail: a@b.c',
      'cmms.passwordFile',
      'set exactly one of passwordFile',
    ],
    [
      'both password sources',
      'url: http://a:8080\nemail: a@b.c\npasswordFile: f\npasswordEnv: PW',
      'cmms.passwordFile',
      'set exactly one',
    ],
    ['bad URL', 'url: atlas\nemail: a@b.c\npasswordEnv: PW', 'cmms.url', 'must be a URL'],
    [
      'asset mapped twice',
      'url: http://a:8080\nemail: a@b.c\npasswordEnv: PW\nassets:\n  C: {name: x, customId: y}',
      'cmms.assets.C',
      'exactly one of name, customId or barCode',
    ],
  ])('names the YAML path of a mistake: %s', (_name, yaml, path, message) => {
    const text = `cmms:\n${yaml.replace(/^/gm, '  ')}\n`;
    const err = (() => {
      try {
        parseConfigText(text, 'gw.yaml', z.looseObject({ cmms: cmmsConfigSchema }));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toContainEqual({
      path,
      message: expect.stringContaining(message),
    });
  });

  it('reads a secret from an environment variable and says what to do when it is missing', async () => {
    await expect(
      readSecret({ env: 'PW' }, 'maintenance.cmms', 'password', { PW: 's3cret' }),
    ).resolves.toBe('s3cret');
    await expect(readSecret({ env: 'PW' }, 'maintenance.cmms', 'password', {})).rejects.toThrow(
      'maintenance.cmms.passwordEnv: environment variable PW is not set; export it before starting',
    );
    await expect(
      readSecret({ file: '/nonexistent/pw' }, 'maintenance.cmms', 'password'),
    ).rejects.toThrow(/maintenance\.cmms\.passwordFile: cannot read \/nonexistent\/pw/);
  });
});
