import type { Command } from 'commander';
import { registerEvaluate } from './evaluate.js';
import { registerBench } from './bench.js';
import { registerPk } from './pk.js';
import { registerTrain } from './train.js';
import { registerDiagram } from './diagram.js';
import { registerReport } from './report.js';
import { registerExperiment } from './experiment.js';
import { registerScenario } from './scenario.js';
import { registerWorker } from './worker.js';

export function registerAll(program: Command): void {
  registerEvaluate(program);
  registerBench(program);
  registerPk(program);
  registerTrain(program);
  registerDiagram(program);
  registerReport(program);
  registerExperiment(program);
  registerScenario(program);
  registerWorker(program);
}
