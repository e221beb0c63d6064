import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { InvalidArgumentError, type Command } from 'commander';
import {
  hashPassword,
  readPasswordFile,
  ROLES,
  updatePasswordFile,
  userNameProblem,
  type Role,
} from '../gateway/broker-passwd.js';
import { exitWithError } from './run.js';

/** The variable `broker passwd` reads the password from, when set (scripts, provisioning). */
export const PASSWORD_ENV = 'FACTORYLM_BROKER_PASSWORD';

interface PasswdOptions {
  role?: Role;
  site?: string;
  node?: string;
  delete?: boolean;
}

function roleOption(value: string): Role {
  if (!(ROLES as readonly string[]).includes(value))
    throw new InvalidArgumentError(`--role must be one of ${ROLES.join(', ')}, got "${value}"`);
  return value as Role;
}

/** Asks on the terminal without echoing what is typed. */
async function prompt(question: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _encoding, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    return await new Promise<string>((resolve) => {
      rl.question(question, (answer) => {
        process.stderr.write('\n');
        resolve(answer);
      });
      muted = true;
    });
  } finally {
    rl.close();
  }
}

/** The new password: from $FACTORYLM_BROKER_PASSWORD, else typed twice, else stdin's first line. */
async function readPassword(): Promise<string> {
  const fromEnv = process.env[PASSWORD_ENV];
  if (fromEnv) return fromEnv;
  if (process.stdin.isTTY) {
    const first = await prompt('Password: ');
    const again = await prompt('Password again: ');
    if (first !== again) throw new Error('the two passwords differ; nothing changed');
    return first;
  }
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text.split(/\r?\n/)[0] ?? '';
}

export function registerBroker(program: Command): void {
  const broker = program
    .command('broker')
    .description("Manage the embedded MQTT broker's users (gateway broker.embedded)");
  broker
    .command('passwd')
    .description(
      'Add a user to a broker password file, change its password or role, or delete it. The password is read from $' +
        PASSWORD_ENV +
        ', else from the terminal (not echoed), else from the first line of stdin; never from the command line',
    )
    .argument(
      '<file>',
      'password file (created mode 0600 if missing); broker.passwordFile in the gateway config',
    )
    .argument('<user>', 'user name: letters, digits, ".", "_", "@" or "-"')
    .option(
      '--role <role>',
      "node (an agent: publishes only its own site and node topics, reads only its write requests), gateway (reads everything) or admin (everything); default: the user's current role, else node",
      roleOption,
    )
    .option('--site <site>', 'for --role node: the site of factorylm/<site>/… it may publish under')
    .option('--node <node>', 'for --role node: its node name (default: the user name)')
    .option('--delete', 'remove the user instead')
    .addHelpText(
      'after',
      `\nExamples:
  factorylm broker passwd /etc/factorylm/broker.passwd line1-pi --site plant1      # prompts for the password
  printf '%s\\n' "$SECRET" | factorylm broker passwd broker.passwd line2-pi --site plant1 --node line2
  ${PASSWORD_ENV}=… factorylm broker passwd broker.passwd grafana-gw --role gateway
  factorylm broker passwd broker.passwd line1-pi --delete

The running gateway reads the file again when it changes: no restart needed.`,
    )
    .action(async (file: string, user: string, opts: PasswdOptions) => {
      try {
        const problem = userNameProblem(user);
        if (problem) throw new Error(problem);
        if (opts.delete) {
          const result = updatePasswordFile(file, user, undefined);
          console.log(
            result === 'deleted' ? `${file}: deleted ${user}` : `${file}: no user ${user}`,
          );
          return;
        }
        // What is not given is kept from the user's current entry: changing only the password
        // keeps its role, site and node.
        const current = existsSync(file) ? readPasswordFile(file).get(user) : undefined;
        const role = opts.role ?? current?.role ?? 'node';
        const was = current?.role === 'node' ? current : undefined;
        const site = opts.site ?? was?.site;
        const node = opts.node ?? was?.node ?? user;
        if (role === 'node' && !site)
          throw new Error('a node user needs --site (the site of its factorylm/<site>/… topics)');
        if (role !== 'node' && (opts.site || opts.node))
          throw new Error(`--site and --node are for node users, not ${role}`);
        const password = await readPassword();
        if (!password) throw new Error('empty password; nothing changed');
        const entry = {
          user,
          role,
          hash: await hashPassword(password),
          ...(role === 'node' ? { site, node } : {}),
        };
        const result = updatePasswordFile(file, user, entry);
        const scope = role === 'node' ? ` (site ${entry.site}, node ${entry.node})` : '';
        console.log(`${file}: ${result} ${role} user ${user}${scope}`);
      } catch (err) {
        exitWithError(err);
      }
    });
}
