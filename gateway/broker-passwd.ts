import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { topicLevelProblem } from '../protocols/mqtt/topics.js';

/**
 * The embedded broker's password file: one user a line,
 *
 *   <user>:<role>:<site>:<node>:$scrypt$ln=14,r=8,p=1$<salt base64>$<hash base64>
 *
 * role `node` (an agent: site and node say which topics it may use), `gateway` (reads
 * everything, publishes under factorylm/) or `admin` (everything); site and node stay empty for
 * gateway and admin. Lines starting with # are comments. Make entries with
 * `factorylm broker passwd <file> <user>`; the file holds no password, only scrypt hashes.
 */

export const ROLES = ['node', 'gateway', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface BrokerUser {
  user: string;
  role: Role;
  /** For role node: the site and node whose topics this user may use. */
  site?: string;
  node?: string;
  /** `$scrypt$ln=…,r=…,p=…$salt$hash`. */
  hash: string;
}

/** User names: letters, digits and . _ @ -; at most 64 characters. */
export function userNameProblem(user: string): string | undefined {
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(user))
    return `user name "${user}" must be 1–64 letters, digits, ".", "_", "@" or "-"`;
  return undefined;
}

const SCRYPT = { ln: 14, r: 8, p: 1, keylen: 32, saltBytes: 16 };

function scryptAsync(password: Buffer, salt: Buffer, keylen: number, options: ScryptOptions) {
  return new Promise<Buffer>((resolve, reject) =>
    scrypt(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** A new scrypt hash of `password` with a random salt (about 50 ms of one core, 16 MB). */
export async function hashPassword(password: string): Promise<string> {
  if (password.length === 0) throw new Error('the password must not be empty');
  const salt = randomBytes(SCRYPT.saltBytes);
  const key = await scryptAsync(Buffer.from(password, 'utf8'), salt, SCRYPT.keylen, {
    N: 2 ** SCRYPT.ln,
    r: SCRYPT.r,
    p: SCRYPT.p,
  });
  return `$scrypt$ln=${SCRYPT.ln},r=${SCRYPT.r},p=${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

interface ParsedHash {
  ln: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function parseHash(hash: string): ParsedHash | undefined {
  const m = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(hash);
  if (!m) return undefined;
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Bounds keep a hand-edited file from asking for gigabytes or minutes per login.
  if (ln < 10 || ln > 16 || r < 1 || r > 16 || p < 1 || p > 4) return undefined;
  const key = Buffer.from(m[5]!, 'base64');
  if (key.length < 16) return undefined;
  return { ln, r, p, salt: Buffer.from(m[4]!, 'base64'), key };
}

/** Whether `password` matches `hash`, in constant time for a given hash. */
export async function verifyPassword(password: Buffer | string, hash: string): Promise<boolean> {
  const h = parseHash(hash);
  if (!h) return false;
  const key = await scryptAsync(
    typeof password === 'string' ? Buffer.from(password, 'utf8') : password,
    h.salt,
    h.key.length,
    { N: 2 ** h.ln, r: h.r, p: h.p, maxmem: 256 * 2 ** h.ln * h.r + 1024 * 1024 },
  );
  return timingSafeEqual(key, h.key);
}

/** A hash no password matches, verified for unknown users so they take as long as known ones. */
export const DUMMY_HASH = `$scrypt$ln=${SCRYPT.ln},r=${SCRYPT.r},p=${SCRYPT.p}$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}`;

export class PasswordFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.join('; ')}`);
    this.name = 'PasswordFileError';
  }
}

function entryProblem(u: BrokerUser): string | undefined {
  const name = userNameProblem(u.user);
  if (name) return name;
  if (!ROLES.includes(u.role)) return `role "${u.role}" must be one of ${ROLES.join(', ')}`;
  if (u.role === 'node') {
    if (!u.site || !u.node) return 'a node user needs its site and node';
    const site = topicLevelProblem(u.site);
    if (site) return `site "${u.site}" ${site}`;
    const node = topicLevelProblem(u.node);
    if (node) return `node "${u.node}" ${node}`;
  } else if (u.site || u.node) return `a ${u.role} user has no site or node (leave them empty)`;
  if (!parseHash(u.hash)) return 'the hash is not a $scrypt$ln=…,r=…,p=…$salt$hash string';
  return undefined;
}

/** Parses the file's text; every bad line is a problem naming its line number. */
export function parsePasswordFile(text: string, file: string): Map<string, BrokerUser> {
  const users = new Map<string, BrokerUser>();
  const problems: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const parts = line.split(':');
    if (parts.length !== 5) {
      problems.push(`line ${i + 1}: expected user:role:site:node:hash`);
      return;
    }
    const [user, role, site, node, hash] = parts as [string, Role, string, string, string];
    const entry: BrokerUser = {
      user,
      role,
      hash,
      ...(site ? { site } : {}),
      ...(node ? { node } : {}),
    };
    const problem = entryProblem(entry);
    if (problem) problems.push(`line ${i + 1}: ${problem}`);
    else if (users.has(user)) problems.push(`line ${i + 1}: user "${user}" is listed twice`);
    else users.set(user, entry);
  });
  if (problems.length) throw new PasswordFileError(file, problems);
  return users;
}

export function readPasswordFile(file: string): Map<string, BrokerUser> {
  return parsePasswordFile(readFileSync(file, 'utf8'), file);
}

export function formatEntry(u: BrokerUser): string {
  return [u.user, u.role, u.site ?? '', u.node ?? '', u.hash].join(':');
}

const HEADER = `# FactoryLM embedded broker users: user:role:site:node:scrypt-hash
# Edit with: factorylm broker passwd <this file> <user> [--role node|gateway|admin] [--site S] [--node N] [--delete]
`;

/**
 * Adds or replaces (or, with `entry` undefined, removes) one user, keeping other lines and
 * comments. Written to a temporary file and renamed, mode 0600, so a running broker never reads
 * half a file.
 */
export function updatePasswordFile(
  file: string,
  user: string,
  entry: BrokerUser | undefined,
): 'added' | 'replaced' | 'deleted' | 'absent' {
  if (entry) {
    const problem = entryProblem(entry);
    if (problem) throw new PasswordFileError(file, [problem]);
  }
  const text = existsSync(file) ? readFileSync(file, 'utf8') : HEADER;
  parsePasswordFile(text, file); // refuse to rewrite a file that is already broken
  let found = false;
  const lines = text.split('\n').flatMap((raw) => {
    const line = raw.trim();
    if (line && !line.startsWith('#') && line.split(':')[0] === user) {
      found = true;
      return entry ? [formatEntry(entry)] : [];
    }
    return [raw];
  });
  if (!found && entry) {
    if (lines.at(-1) === '') lines.pop();
    lines.push(formatEntry(entry), '');
  }
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, lines.join('\n'), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  // Keep the owner (root editing the file of the gateway's service user); EPERM means we are
  // not root, and then the file is ours anyway.
  if (existsSync(file)) {
    const { uid, gid } = statSync(file);
    try {
      chownSync(tmp, uid, gid);
    } catch {
      // not root: the new file is ours, as the old one was
    }
  }
  renameSync(tmp, file);
  if (entry) return found ? 'replaced' : 'added';
  return found ? 'deleted' : 'absent';
}
