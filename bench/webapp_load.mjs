// bench/webapp_load.mjs: the models web app's first page load in a real browser (Debian's chromium, headless,
// playwright-core from web/node_modules), inferd's /ui/ against a reference URL serving the same files,
// interleaved, a fresh browser context (empty cache) for every load. Run by bench/webapp_bench.sh.
//
//   node bench/webapp_load.mjs ROUNDS NAME=URL NAME=URL...
//
// For each load: the navigation's load event (ms from the start of navigation) and the bytes transferred
// (all resources the page fetched up to then, compressed sizes). Prints one line per load and then
// "NAME median_ms=... bytes=..." per URL; the shell script prints the ratios.
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(ROOT, 'web', 'package.json'));
const { chromium } = require('playwright-core');

const rounds = Number(process.argv[2] || 10);
const targets = process.argv.slice(3).map((a) => { const i = a.indexOf('='); return [a.slice(0, i), a.slice(i + 1)]; });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true });
const results = Object.fromEntries(targets.map(([n]) => [n, { ms: [], bytes: 0 }]));
try {
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...targets].reverse() : targets;  // alternate who goes first
    for (const [name, url] of order) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      await page.goto(url, { waitUntil: 'load' });
      const m = await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const res = performance.getEntriesByType('resource');
        return { ms: nav.loadEventEnd - nav.startTime,
                 bytes: nav.transferSize + res.reduce((s, e) => s + e.transferSize, 0) };
      });
      results[name].ms.push(m.ms);
      results[name].bytes = m.bytes;
      console.log(`round ${r + 1} ${name} load_ms=${m.ms.toFixed(1)} bytes=${m.bytes}`);
      await context.close();
    }
  }
} finally {
  await browser.close();
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
for (const [name] of targets) {
  console.log(`RESULT ${name} median_ms=${median(results[name].ms).toFixed(1)} bytes=${results[name].bytes}`);
}
