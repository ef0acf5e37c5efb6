#!/usr/bin/env node
// `npm run bundle`: the CLI as one ES module (esbuild) in dist/bundle/, with what it loads at run
// time beside it — tfjs-backend-wasm's .wasm binaries, Dawn's dawn.node (when the optional
// `webgpu` package is installed), piscina's worker and the verifier task (the verifier pool's
// threads), and the report's uPlot/Mermaid assets. The folder runs with `node dist/bundle/e3sim.mjs`
// and needs no node_modules: copy it (with .device/ for Node.js on the GPU machine).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
// `--out DIR` builds elsewhere (the tests build into a temporary folder)
const outArg = process.argv.indexOf('--out');
const out =
  outArg > 0 && process.argv[outArg + 1] ? path.resolve(process.argv[outArg + 1]) : path.join(root, 'dist', 'bundle');
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(path.join(out, 'assets'), { recursive: true });

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const tfjsVersion = JSON.parse(fs.readFileSync(require.resolve('@tensorflow/tfjs/package.json'), 'utf8')).version;
const optional = (spec) => {
  try {
    return require.resolve(spec);
  } catch {
    return null;
  }
};
const hasWebgpu = optional('webgpu') !== null && optional('@tensorflow/tfjs-backend-webgpu') !== null;

// CommonJS code inside an ES module bundle still refers to require/__dirname/__filename.
const banner = [
  "import { createRequire as __e3simCreateRequire } from 'node:module';",
  "import { fileURLToPath as __e3simFileURLToPath } from 'node:url';",
  "import { dirname as __e3simDirname } from 'node:path';",
  'const require = __e3simCreateRequire(import.meta.url);',
  'const __filename = __e3simFileURLToPath(import.meta.url);',
  'const __dirname = __e3simDirname(__filename);',
].join('\n');

/**
 * The webgpu package looks for dist/<platform>-<arch>/dawn.node next to itself; in the bundle it sits beside
 * e3sim.mjs.
 */
const dawnBeside = {
  name: 'dawn-beside-bundle',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]webgpu[\\/]index\.js$/ }, (args) => {
      const src = fs.readFileSync(args.path, 'utf8');
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the text searched for in webgpu's source
      const from = "join(__dirname, 'dist', `${process.platform}-${arch}`, 'dawn.node')";
      if (!src.includes(from))
        throw new Error(`webgpu/index.js changed: cannot find ${from}; update scripts/bundle.mjs`);
      return { contents: src.replace(from, "join(__dirname, 'dawn.node')"), loader: 'js' };
    });
  },
};

/**
 * `@tensorflow/tfjs` (the umbrella e3sim imports: tfjs-core with its gradients and chained ops,
 * and the cpu backend) also requires tfjs-layers, tfjs-converter, tfjs-data and the WebGL backend,
 * only to re-export them; e3sim uses none (no layers model, no graph model, no tf.data, no WebGL
 * in Node). And tfjs-core requires node-fetch (with whatwg-url and tr46) only for `tf.io` over HTTP
 * on a Node.js without a global fetch; Node.js 20 has one, and e3sim loads no model over HTTP. In
 * the bundle they are empty modules: 2.9 MiB less for every thread to parse at its start (the
 * CLI, each sampler and learner thread). Measured: BENCHMARKS.md "Start-up of a run from the bundle".
 */
const UNUSED_TFJS = /^(@tensorflow\/tfjs-(layers|converter|data|backend-webgl)|node-fetch)$/;
const withoutUnusedTfjs = {
  name: 'without-unused-tfjs',
  setup(build) {
    build.onResolve({ filter: UNUSED_TFJS }, (args) => ({ path: args.path, namespace: 'e3sim-unused' }));
    build.onLoad({ filter: /.*/, namespace: 'e3sim-unused' }, () => ({
      contents: 'module.exports = {};',
      loader: 'js',
    }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  banner: { js: banner },
  legalComments: 'none',
  logLevel: 'warning',
  // tfjs-node(-gpu) load through createRequire at run time and are never installed here
  // @napi-rs/nice: piscina's optional niceness binding, loaded only for niceIncrement ≠ 0 (never set here)
  external: [
    '@tensorflow/tfjs-node',
    '@tensorflow/tfjs-node-gpu',
    '@napi-rs/nice',
    ...(hasWebgpu ? [] : ['webgpu', '@tensorflow/tfjs-backend-webgpu']),
  ],
  define: { __E3SIM_BUNDLE__: JSON.stringify({ version: pkg.version, tfjs: tfjsVersion }) },
};
await esbuild.build({
  ...common,
  entryPoints: [path.join(root, 'scripts/bundle-entry.ts')],
  outfile: path.join(out, 'e3sim.mjs'),
  plugins: [dawnBeside, withoutUnusedTfjs],
});
await esbuild.build({
  ...common,
  entryPoints: [path.join(root, 'scripts/bundle-worker-entry.ts')],
  outfile: path.join(out, 'e3sim-worker.mjs'),
  plugins: [dawnBeside, withoutUnusedTfjs],
});
await esbuild.build({
  ...common,
  entryPoints: [path.join(root, 'actors/verify.task.ts')],
  outfile: path.join(out, 'verify-task.mjs'),
});
// piscina starts its threads from worker.js beside its own index.js, i.e. beside e3sim.mjs here
await esbuild.build({
  ...common,
  format: 'cjs',
  banner: {},
  entryPoints: [path.join(path.dirname(require.resolve('piscina')), 'worker.js')],
  outfile: path.join(out, 'worker.js'),
});

const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
for (const f of fs.readdirSync(wasmDir).filter((f) => f.endsWith('.wasm')))
  fs.copyFileSync(path.join(wasmDir, f), path.join(out, f));
if (hasWebgpu) {
  const dawn = path.join(
    path.dirname(require.resolve('webgpu')),
    'dist',
    `${process.platform}-${process.arch === 'arm64' ? 'arm64' : 'x64'}`,
    'dawn.node',
  );
  if (fs.existsSync(dawn)) fs.copyFileSync(dawn, path.join(out, 'dawn.node'));
}
// the built-in cost-model profiles (src/sim/profile.ts reads them beside the bundle)
const profiles = path.join(root, 'examples', 'profiles');
fs.mkdirSync(path.join(out, 'profiles'), { recursive: true });
for (const f of fs.readdirSync(profiles).filter((f) => f.endsWith('.yaml')))
  fs.copyFileSync(path.join(profiles, f), path.join(out, 'profiles', f));
for (const spec of ['uplot/dist/uPlot.min.css', 'uplot/dist/uPlot.iife.min.js', 'mermaid/dist/mermaid.min.js']) {
  fs.copyFileSync(require.resolve(spec), path.join(out, 'assets', path.basename(spec)));
}
// piscina's worker is CommonJS; e3sim.mjs and verify-task.mjs are ES modules by extension
fs.writeFileSync(path.join(out, 'package.json'), '{ "type": "commonjs" }\n');

let total = 0;
const lines = [];
for (const f of fs.readdirSync(out, { recursive: true })) {
  const p = path.join(out, f);
  if (!fs.statSync(p).isFile()) continue;
  total += fs.statSync(p).size;
  lines.push(`  ${f.padEnd(44)} ${(fs.statSync(p).size / 2 ** 20).toFixed(2).padStart(7)} MiB`);
}
console.log(
  `${path.relative(process.cwd(), out) || '.'}/ (${(total / 2 ** 20).toFixed(1)} MiB${hasWebgpu ? '' : '; no webgpu: the optional package is not installed'}):\n${lines.sort().join('\n')}`,
);
