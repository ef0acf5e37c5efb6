#!/usr/bin/env -S node --max-semi-space-size=64
// Runs the TypeScript CLI through tsx, so there is no build step between `npm ci` and use.
//
// --max-semi-space-size=64 (V8's default semi-space is 16 MB): the virtual clock and sampling
// allocate many short-lived objects, and fewer scavenges gave more simulated events/s in
// alternating runs (src/cli/self.ts NODE_FLAGS, where the value is chosen). It is a start-up flag
// (Node's docs: V8 flags set after start-up are unreliable), so it is on the shebang line and in
// the npm scripts, not set from here.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
