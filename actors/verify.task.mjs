// Piscina entry: registers tsx in the pool's thread, then serves the TypeScript task.
import { register } from 'tsx/esm/api';

register();
const task = await import('./verify.task.ts');
export default task.default;
