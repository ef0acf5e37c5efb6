import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { importCycles } from '../scripts/import-cycles.mjs';

function plant(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cycles-'));
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), text);
  }
  return root;
}

describe('import circles (npm run lint)', () => {
  it('finds a planted circle of value imports, across folders and multi-line imports', () => {
    const root = plant({
      'a.ts': "import { b } from './sub/b.js';\nexport const a = () => b;\n",
      'sub/b.ts': "import {\n  c,\n} from '../c.js';\nexport const b = c;\n",
      'c.ts': "export { a } from './a.js';\nexport const c = 1;\n",
      'd.ts': "import { a } from './a.js';\n",
    });
    expect(importCycles(root)).toEqual([['a.ts', 'c.ts', 'sub/b.ts']]);
  });

  it('does not count type-only imports, which the compiler erases', () => {
    const root = plant({
      'a.ts': "import type { B } from './b.js';\nexport type A = B;\n",
      'b.ts': "import { x } from './a.js';\nexport type B = number;\n",
    });
    expect(importCycles(root)).toEqual([]);
  });

  it('src/ has none', () => {
    expect(importCycles(path.resolve('src'))).toEqual([]);
  });
});
