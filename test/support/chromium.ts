import { chromium, type BrowserContext } from 'playwright-core';

/**
 * Debian's Chromium, headless, with a fresh profile in `profile` (playwright passes it as
 * --user-data-dir). The flags keep it off the network: this machine has none, and Chromium's
 * background connections would be refused many at a time.
 */
export function launchChromium(profile: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport: { width: 1280, height: 900 },
  });
}
