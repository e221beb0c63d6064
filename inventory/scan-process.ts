/**
 * The agent's scan process: scan options as JSON in argv[2], the report as JSON on stdout, or
 * one line saying why not on stderr and exit code 1. The agent runs each scan in a process of
 * its own (agent/inventory-publisher.ts), so the memory a large tree takes is returned when it
 * exits and the OS can run it at a lower priority than the PLC polls.
 */
import { errorMessage } from '../core/errors.js';
import { scanNode, type ScanOptions } from './scan.js';

try {
  const options = JSON.parse(process.argv[2] ?? '{}') as ScanOptions;
  process.stdout.write(JSON.stringify(await scanNode(options)));
} catch (err) {
  process.stderr.write(`${errorMessage(err)}\n`);
  process.exitCode = 1;
}
