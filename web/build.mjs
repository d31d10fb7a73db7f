// Bundles web/src into an output directory (default web/dist) with esbuild: content-hashed names, the
// editor and chart chunks split off and loaded on demand, an index.html that only references files (the
// server's CSP forbids inline scripts). Deterministic: the same sources and lockfile give the same bytes.
// Prints the gzipped size of the first page load (index.html + the entry script + the stylesheet) and of all files.
import * as esbuild from 'esbuild';
import { mkdirSync, rmSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { join, basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = process.argv[2] || join(here, 'dist');
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: ['src/main.js', 'src/style.css'],
  bundle: true,
  splitting: true,
  format: 'esm',
  minify: true,
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  outdir,
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  assetNames: '[name]-[hash]',
  legalComments: 'external',
  charset: 'utf8',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.entries(result.metafile.outputs);
const entry = (src) => basename(outputs.find(([, o]) => o.entryPoint === src)[0]);
const js = entry('src/main.js');
const css = entry('src/style.css');
const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>inferd</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/${css}">
<script type="module" src="/ui/${js}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The inferd web app needs JavaScript.</noscript>
</body>
</html>
`;
writeFileSync(join(outdir, 'index.html'), html);

// The licenses of the npm packages in the bundle (every one asks for its notice to travel with copies).
const pkgs = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (m) pkgs.add(m[1]);
}
const notices = [...pkgs].sort().map((name) => {
  const dir = join(here, 'node_modules', name);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
  const text = file ? readFileSync(join(dir, file), 'utf8').trim() : `License: ${pkg.license}`;
  return `${name} ${pkg.version} (${pkg.license})\n\n${text}\n`;
});
writeFileSync(join(outdir, 'THIRD-PARTY-LICENSES.txt'),
  `Third-party packages bundled into the inferd web app (web/package-lock.json pins them).\n\n${notices.join('\n' + '-'.repeat(78) + '\n\n')}`);

const gz = (f) => gzipSync(readFileSync(join(outdir, f)), { level: 9 }).length;
const files = readdirSync(outdir).sort();
const first = ['index.html', js, css].reduce((a, f) => a + gz(f), 0);
const all = files.filter((f) => /\.(js|css|html)$/.test(f)).reduce((a, f) => a + gz(f), 0);  // what a browser can load
for (const f of files) console.log(`  ${f.padEnd(40)} ${String(readFileSync(join(outdir, f)).length).padStart(8)} B, ${String(gz(f)).padStart(7)} B gzipped`);
console.log(`first page load (index.html, ${js}, ${css}): ${(first / 1024).toFixed(1)} KiB gzipped`);
console.log(`all assets (with the editor and chart chunks): ${(all / 1024).toFixed(1)} KiB gzipped (budget 300 KiB)`);
if (all > 300 * 1024) { console.error('over the 300 KiB budget'); process.exit(1); }
