#!/usr/bin/env node
import { Command } from 'commander';
import { packageVersion } from '../core/package-info.js';
import { registerAgent } from './agent.js';
import { registerAlarms } from './alarms.js';
import { registerAudit } from './audit.js';
import { registerBroker } from './broker.js';
import { registerBrowse } from './browse.js';
import { registerCmms } from './cmms.js';
import { registerConfig } from './config.js';
import { registerDemo } from './demo.js';
import { registerDoctor } from './doctor.js';
import { registerFleet } from './fleet.js';
import { registerGateway } from './gateway.js';
import { registerInventory } from './inventory.js';
import { registerLlm } from './llm.js';
import { registerRead } from './read.js';
import { registerSim } from './sim.js';
import { registerWrite } from './write.js';

const program = new Command('factorylm')
  .version(packageVersion())
  .description('FactoryLM Edge: PLC agent, MQTT gateway, PLC simulators and commissioning tools')
  .showHelpAfterError('(run with --help for usage)');

registerAgent(program);
registerGateway(program);
registerBroker(program);
registerSim(program);
registerRead(program);
registerBrowse(program);
registerWrite(program);
registerInventory(program);
registerAudit(program);
registerFleet(program);
registerConfig(program);
registerDemo(program);
registerDoctor(program);
registerCmms(program);
registerLlm(program);
registerAlarms(program);

await program.parseAsync(process.argv);
