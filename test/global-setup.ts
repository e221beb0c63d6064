import { existsSync } from 'node:fs';
import { ensureServices } from './support/system-services.js';

export default function setup(): void {
  if (!existsSync('dist/cli/main.js')) {
    throw new Error(
      'dist/cli/main.js is missing: run `npm run build` (npm test does it for you) before vitest',
    );
  }
  ensureServices();
}
