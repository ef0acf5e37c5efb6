import { describeFlatMemory } from './helpers/tiny.js';

describeFlatMemory('wasm');
