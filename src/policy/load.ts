import { loadCheckpoint } from './checkpoint.js';
import { Gpt } from './transformer/model.js';
import { InputError } from '../util/errors.js';
import { VOCAB_SIZE } from '../tasks/countdown/tokenizer.js';

/** Loads a countdown policy checkpoint (verifying its sha256) into a Gpt on the current backend. */
export function loadCountdownPolicy(dir: string): {
  model: Gpt;
  manifest: ReturnType<typeof loadCheckpoint>['manifest'];
} {
  const ck = loadCheckpoint(dir);
  if (ck.manifest.tokenizer.name !== 'countdown' || ck.manifest.tokenizer.vocabSize !== VOCAB_SIZE) {
    throw new InputError(
      `checkpoint ${dir}: tokenizer is '${ck.manifest.tokenizer.name}' with ${ck.manifest.tokenizer.vocabSize} tokens; the countdown task needs 'countdown' with ${VOCAB_SIZE}`,
    );
  }
  return { model: Gpt.fromPacked(ck.manifest.config, ck.weights, `checkpoint ${dir}`), manifest: ck.manifest };
}
