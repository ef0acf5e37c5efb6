// Prints the tables of bench/measure-base.sh's JSON (a directory of them) as Markdown.
import fs from 'node:fs';
import path from 'node:path';
const dir = process.argv[2];
const read = (f) => {
  const p = path.join(dir, f);
  if (!fs.existsSync(p)) return null;
  try {
    return JSON.parse(fs.readFileSync(p, 'utf8'));
  } catch {
    return null; // still being written by bench/measure-base.sh: print what is finished
  }
};
const pct = (x) => `${(100 * x).toFixed(1)}%`;
const f3 = (x) => x.toFixed(3);
console.log(
  '| difficulty | arithmetic | verification | P(✓ given target) | P(✓ given not) | attempt success | mean attempts | mean length | pass@1 |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const d of [3, 4, 5]) {
  const r = read(`vg-gap-d${d}.json`);
  if (!r) continue;
  const sides = r.checkWhenHit === undefined ? ['—', '—'] : [f3(r.checkWhenHit), f3(r.checkWhenMiss)];
  const acc = [f3(r.arithmeticAccuracy), f3(r.verificationAccuracy), ...sides];
  const cols = [...acc, f3(r.attemptSuccess), r.meanAttempts.toFixed(2)];
  console.log(`| ${d} | ${[...cols, r.meanLengthTokens.toFixed(1), f3(r.passAt1)].join(' | ')} |`);
}
for (const d of [3, 4]) {
  const r = read(`by-attempt-d${d}.json`);
  if (!r) continue;
  console.log(`\nForced chains of 16, ${d} numbers (${r.problems} × ${r.samples}):\n`);
  console.log(`| k | ${r.rows.map((x) => x.k).join(' | ')} |`);
  console.log(`|---|${r.rows.map(() => '---:').join('|')}|`);
  const cols = [
    ['hazard', 'hazard'],
    ['uniform searcher', 'uniformHazard'],
    ['repeats', 'repeats'],
    ['malformed', 'malformed'],
    ['wrong numbers', 'wrongNumbers'],
    ['arithmetic errors', 'arithmetic'],
    ['false ✓', 'falseCheck'],
    ['solved by k', 'solvedBy'],
  ];
  for (const [name, key] of cols)
    if (r.rows[0][key] !== undefined) console.log(`| ${name} | ${r.rows.map((x) => pct(x[key])).join(' | ')} |`);
  const c = read(`cut-after-d${d}.json`);
  if (c)
    console.log(`\nCut after C attempts, ${d} numbers: ${c.rows.map((x) => `C=${x.cut} pass@1 ${f3(x.passAt1)} (${x.meanAttempts.toFixed(2)} attempts, forced ${pct(x.forcedShare)})`).join('; ')}`);
  const b = read(`budgets-d${d}.json`);
  if (b)
    console.log(`\nBudgets, ${d} numbers: ${b.budgets.map((x) => `${x.budget}: pass@1 ${f3(x.passAt['1'])}, pass@4 ${f3(x.passAt['4'])}, len ${x.meanLength.toFixed(1)}`).join('; ')}`);
}
