#!/usr/bin/env node
// `npm run lint`'s second half: no line of code or comment over 120 columns (code points). Biome's
// formatter wraps code at 120 but cannot break a string or template literal, so, like ESLint's max-len
// with ignoreStrings and ignoreTemplateLiterals, a line is measured with its literals' contents removed.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const COLUMNS_MAX = 120;
const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '*.ts', '*.mjs', '*.js'], {
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => f && !f.startsWith('examples/') && fs.existsSync(f));

/**
 * Per line, the columns that are not inside a string or template literal: a small scanner over the
 * whole file (templates nest through `${…}`; comments count, they can always be wrapped).
 */
function codeColumns(text) {
  const counts = [0];
  const stack = []; // open literals: "'", '"', '`', or '{' for a `${` inside a template
  let comment = null; // '//' | '/*'
  const chars = [...text];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === '\n') {
      counts.push(0);
      if (comment === '//') comment = null;
      continue;
    }
    const top = stack[stack.length - 1];
    const inLiteral = top === "'" || top === '"' || top === '`';
    if (!inLiteral) counts[counts.length - 1]++;
    if (comment === '//') continue;
    if (comment === '/*') {
      if (c === '*' && chars[i + 1] === '/') comment = null;
      continue;
    }
    if (inLiteral) {
      if (c === '\\') i++;
      else if (c === top) stack.pop();
      else if (top === '`' && c === '$' && chars[i + 1] === '{') {
        stack.push('{');
        i++;
      }
      continue;
    }
    if (c === '/' && chars[i + 1] === '/') comment = '//';
    else if (c === '/' && chars[i + 1] === '*') comment = '/*';
    else if (c === "'" || c === '"' || c === '`') stack.push(c);
    else if (c === '{') stack.push('{');
    else if (c === '}' && top === '{') stack.pop();
  }
  return counts;
}

const over = [];
for (const f of files) {
  const text = fs.readFileSync(f, 'utf8');
  const code = codeColumns(text);
  text.split('\n').forEach((line, i) => {
    const n = [...line].length;
    // a regular expression literal, which the scanner does not parse
    const regexOnly = /^\s*\/.+\/[dgimsuy]*,?$/.test(line);
    if (n > COLUMNS_MAX && code[i] > COLUMNS_MAX && !regexOnly) over.push(`${f}:${i + 1}: ${n} columns`);
  });
}
for (const o of over) console.error(o);
console.log(`line length: ${files.length} files, ${over.length} lines over ${COLUMNS_MAX} columns`);
process.exit(over.length ? 1 : 0);
