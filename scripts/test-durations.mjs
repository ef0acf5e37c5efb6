#!/usr/bin/env node
// Writes test/durations.json — each test file's seconds in the last `npm test` (test-results/vitest.json) —
// which vitest.config.ts's sequencer reads to start the longest files first (on a fresh clone vitest
// has no timings of its own and would order files by size: a 25-line file that runs 90 s went last).
// Run it after a full `npm test` on the 2-core machine when files are added or change a lot.
import fs from 'node:fs';
import path from 'node:path';

const results = JSON.parse(fs.readFileSync('test-results/vitest.json', 'utf8'));
const out = {};
for (const f of results.testResults) {
  // keyed by the path from the repository root (the run may have been in another clone)
  const name = f.name.slice(f.name.lastIndexOf(`${path.sep}test${path.sep}`) + 1);
  out[name] = Math.round((f.endTime - f.startTime) / 100) / 10;
}
const sorted = Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
fs.writeFileSync('test/durations.json', `${JSON.stringify(sorted, null, 2)}\n`);
console.log(
  `test/durations.json: ${Object.keys(sorted).length} files, ${Object.values(sorted)
    .reduce((a, b) => a + b, 0)
    .toFixed(0)} file-seconds`,
);
