import { describeFlatMemory } from './helpers/tiny.js';

describeFlatMemory('cpu');
