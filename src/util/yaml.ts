/** The one way a YAML input is read: a missing file or bad YAML is exit 2, naming the input and the line. */
import fs from 'node:fs';
import YAML from 'yaml';
import { InputError } from './errors.js';

/**
 * Parses the YAML file `file`; `input` names it in errors (`--config`, `--profile`, a scenario's
 * `base`). Returns the plain parsed value, to be checked by the caller's schema.
 */
export function readYaml(file: string, input: string): unknown {
  if (!fs.existsSync(file)) throw new InputError(`${input}: '${file}' does not exist`);
  try {
    return YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(`${input}: '${file}' is not valid YAML: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
  }
}
