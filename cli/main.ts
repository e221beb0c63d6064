#!/usr/bin/env node
import { Command } from 'commander';
import { packageVersion } from '../core/package-info.js';

type Register = (program: Command) => void;

/**
 * Every command, in the order `--help` lists them. Each is imported only when it runs: an agent
 * imported the gateway, inventory, simulator and CMMS code beside its own, and with them yaml,
 * influxdb-client and (for an OPC UA agent) modbus-serial: 194 of our modules and package entry
 * points where it needs 86, each holding its source and compiled code for the process's life.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  agent: async () => (await import('./agent.js')).registerAgent,
  gateway: async () => (await import('./gateway.js')).registerGateway,
  broker: async () => (await import('./broker.js')).registerBroker,
  sim: async () => (await import('./sim.js')).registerSim,
  read: async () => (await import('./read.js')).registerRead,
  browse: async () => (await import('./browse.js')).registerBrowse,
  write: async () => (await import('./write.js')).registerWrite,
  inventory: async () => (await import('./inventory.js')).registerInventory,
  audit: async () => (await import('./audit.js')).registerAudit,
  fleet: async () => (await import('./fleet.js')).registerFleet,
  config: async () => (await import('./config.js')).registerConfig,
  demo: async () => (await import('./demo.js')).registerDemo,
  doctor: async () => (await import('./doctor.js')).registerDoctor,
  cmms: async () => (await import('./cmms.js')).registerCmms,
  llm: async () => (await import('./llm.js')).registerLlm,
  alarms: async () => (await import('./alarms.js')).registerAlarms,
};

const program = new Command('factorylm')
  .version(packageVersion())
  .description('FactoryLM Edge: PLC agent, MQTT gateway, PLC simulators and commissioning tools')
  .showHelpAfterError('(run with --help for usage)');

// The command is the first argument; anything else (--help, help <cmd>, a typo) needs them all.
const named = process.argv[2];
const wanted =
  named !== undefined && Object.hasOwn(COMMANDS, named) ? [named] : Object.keys(COMMANDS);
for (const register of await Promise.all(wanted.map((name) => COMMANDS[name]!())))
  register(program);

await program.parseAsync(process.argv);
