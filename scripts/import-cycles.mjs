#!/usr/bin/env node
// `npm run lint`'s third part: no import circle among the value imports of src/ (issue #30: a
// module that imports a module that imports it back makes the order of their initialisation, and
// the reading order, depend on who was imported first). `import type` / `export type` lines are
// erased by the compiler and do not count.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const IMPORT = /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?'(\.{1,2}\/[^']+)'/g;

/** The value-import graph of the .ts files under `root`: file → files it imports. */
export function importGraph(root) {
  const graph = new Map();
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const f = path.join(dir, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) graph.set(f, []);
    }
  };
  walk(root);
  for (const [f, deps] of graph) {
    const text = fs.readFileSync(f, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      if (m[2]) continue; // import type
      const target = path.resolve(path.dirname(f), m[3].replace(/\.js$/, '.ts'));
      if (graph.has(target)) deps.push(target);
    }
  }
  return graph;
}

/** Strongly connected components with more than one file (Tarjan), each sorted, relative to `root`. */
export function importCycles(root) {
  const graph = importGraph(root);
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const out = [];
  let next = 0;
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) !== index.get(v)) return;
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(path.relative(root, w));
    } while (w !== v);
    if (component.length > 1) out.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const cycles = importCycles(path.resolve('src'));
  for (const c of cycles) console.error(`import circle in src/: ${c.join(' → ')}`);
  console.log(`import circles: ${cycles.length} in src/`);
  if (cycles.length > 0) process.exit(1);
}
