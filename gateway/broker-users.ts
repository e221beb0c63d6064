import { statSync } from 'node:fs';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { readPasswordFile, type BrokerUser } from './broker-passwd.js';

/** The password file, read again when it changes (so `factorylm broker passwd` needs no restart). */
export class UserFile {
  private users = new Map<string, BrokerUser>();
  private signature = '';

  constructor(
    private readonly file: string,
    private readonly log: Logger,
  ) {
    this.users = readPasswordFile(file);
    this.signature = this.stat();
  }

  private stat(): string {
    const s = statSync(this.file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  }

  get(user: string): BrokerUser | undefined {
    try {
      const signature = this.stat();
      if (signature !== this.signature) {
        this.signature = signature;
        this.users = readPasswordFile(this.file);
        this.log.info({ file: this.file, users: this.users.size }, 'broker password file reloaded');
      }
    } catch (err) {
      this.log.error(
        { file: this.file, err: errorMessage(err) },
        'cannot reload the broker password file; keeping the users read before',
      );
    }
    return this.users.get(user);
  }
}
