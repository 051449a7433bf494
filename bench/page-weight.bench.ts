// Page weight: first-load JavaScript (gzipped) of the catalog, product and checkout pages of the
// production build, and their largest contentful paint in Chromium. The JavaScript counted is
// every script the page loads from our own origin during its first load (a fresh browser
// context, nothing cached), gzipped here at level 9 as a CDN would serve it. The catalog and
// product pages must carry no Stripe code: every one of their scripts is searched for "stripe".
//   npx tsx bench/page-weight.bench.ts [--quick]
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { readFileSync, rmSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { actionIds } from '../chaos/lib/harness';
import { Shopper } from '../chaos/lib/shopper';
import { BENCH_DIST_DIR, cleanupAll, freePort, root, runDir, startApp } from './lib/app-process';
import { exitForGoals, isQuick, missedGoals, percentile, recordResults, type Row } from './lib/results';

const RUNS = isQuick ? 3 : 10;
const GOAL_KB = 110;
const executablePath = process.env.CHROMIUM_PATH || process.env.CHROME_PATH || '/usr/bin/chromium';

const dir = runDir('page-weight');
const port = await freePort();
const rows: Row[] = [];
try {
  const app = await startApp({
    label: 'app',
    via: 'start',
    port,
    dataDir: join(dir, 'data'),
    logFile: join(dir, 'app.log'),
    env: { DATABASE_URL: '', STRIPE_SECRET_KEY: '', EMULATOR_PORT: String(await freePort()) },
  });
  const home = await (await fetch(`${app.url}/`)).text();
  const slug = home.match(/href="\/products\/([^"]+)"/)?.[1];
  if (!slug) throw new Error('no product link on the catalog page');
  const productHtml = await (await fetch(`${app.url}/products/${slug}`)).text();
  const productId = productHtml.match(/name="productId"[^>]*value="([^"]+)"/)?.[1] ?? productHtml.match(/value="([0-9a-f-]{36})"[^>]*name="productId"/)?.[1];
  if (!productId) throw new Error('no productId field on the product page');
  // A cart, so the checkout page renders its form and the Payment Element.
  const shopper = new Shopper({ base: () => app.url, actions: actionIds() }, 'weight@example.com');
  const added = await shopper.addToCart({ id: productId, slug }, 1);
  if (!added.ok) throw new Error(`add to cart: ${added.error}`);
  const [cookieName, cookieValue] = shopper.cookie.split('=');

  const pages = [
    { name: 'catalog', path: '/', stripeFree: true },
    { name: 'product', path: `/products/${slug}`, stripeFree: true },
    { name: 'checkout', path: '/checkout', stripeFree: false },
  ];
  // What every page loads before its own code: React, React DOM and Next's App Router runtime.
  const manifest = JSON.parse(readFileSync(join(root, BENCH_DIST_DIR, 'build-manifest.json'), 'utf8')) as { rootMainFiles: string[] };
  const framework = new Set(manifest.rootMainFiles.map((f) => `/_next/${f}`));
  const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    for (const p of pages) {
      const lcps: number[] = [];
      let scripts: { url: string; raw: number; gz: number; stripe: boolean }[] = [];
      let external: string[] = [];
      for (let run = 0; run < RUNS; run++) {
        const context = await browser.newContext();
        await context.addCookies([{ name: cookieName, value: cookieValue, url: app.url }]);
        const page = await context.newPage();
        const seen: Promise<{ url: string; raw: number; gz: number; stripe: boolean } | null>[] = [];
        const others: string[] = [];
        page.on('response', (res) => {
          if (res.request().resourceType() !== 'script') return;
          if (!res.url().startsWith(app.url)) {
            others.push(res.url());
            return;
          }
          seen.push(
            res
              .body()
              .then((b) => ({ url: res.url().slice(app.url.length), raw: b.length, gz: gzipSync(b, { level: 9 }).length, stripe: /stripe/i.test(b.toString('utf8')) }))
              .catch(() => null),
          );
        });
        await page.goto(`${app.url}${p.path}`, { waitUntil: 'load' });
        await page.waitForLoadState('networkidle').catch(() => {});
        const lcp = await page.evaluate(
          () =>
            new Promise<number>((resolve) => {
              new PerformanceObserver((list) => {
                const entries = list.getEntries();
                resolve(entries[entries.length - 1].startTime);
              }).observe({ type: 'largest-contentful-paint', buffered: true });
              setTimeout(() => resolve(NaN), 3_000);
            }),
        );
        lcps.push(lcp);
        if (run === 0) {
          scripts = (await Promise.all(seen)).filter((s): s is NonNullable<typeof s> => s !== null);
          external = others;
        }
        await context.close();
      }
      lcps.sort((a, b) => a - b);
      const gzKb = scripts.reduce((s, x) => s + x.gz, 0) / 1024;
      const frameworkKb = scripts.filter((x) => framework.has(x.url.split('?')[0])).reduce((s, x) => s + x.gz, 0) / 1024;
      const rawKb = scripts.reduce((s, x) => s + x.raw, 0) / 1024;
      const stripeFiles = scripts.filter((s) => s.stripe).map((s) => s.url);
      const goal = p.stripeFree ? (gzKb <= GOAL_KB && stripeFiles.length === 0 && external.length === 0 ? 'met' : 'NOT met') : '—';
      rows.push({
        page: `${p.name} (${p.path.startsWith('/products') ? '/products/[slug]' : p.path})`,
        scripts: scripts.length,
        'first-load JS kB (gzip)': gzKb.toFixed(1),
        'of which framework kB': frameworkKb.toFixed(1),
        'page + layout kB': (gzKb - frameworkKb).toFixed(1),
        'JS kB (raw)': rawKb.toFixed(0),
        'files mentioning "stripe"': stripeFiles.length ? `${stripeFiles.length}: ${stripeFiles.join(', ')}` : 0,
        'other-origin scripts': external.length ? external.map((u) => new URL(u).pathname).join(', ') : 0,
        'LCP p50 ms': percentile(lcps, 50).toFixed(0),
        'LCP max ms': lcps[lcps.length - 1].toFixed(0),
        [`goal ≤ ${GOAL_KB} kB, no Stripe`]: goal,
      });
      console.log(JSON.stringify(rows[rows.length - 1]));
    }
  } finally {
    await browser.close();
  }
  await app.stop();
  rmSync(dir, { recursive: true, force: true });
} catch (err) {
  console.error(err);
  await cleanupAll();
  process.exit(1);
}
recordResults({
  name: 'page-weight',
  title: 'Page weight: first-load JavaScript and largest contentful paint',
  command: `npx tsx bench/page-weight.bench.ts${isQuick ? ' --quick' : ''}`,
  rows,
  notes: [
    'Production build started by scripts/start.ts (PGlite, bundled emulator). Each page loaded in a fresh Chromium context (/usr/bin/chromium via playwright-core, --no-sandbox --disable-gpu --disable-background-networking), so nothing is cached; the checkout page with one item in the cart.',
    'First-load JS = every script response from our origin during the load (HTML-referenced chunks and anything loaded before the network went idle), gzipped at level 9. The checkout page also loads Stripe.js from the Stripe origin (the emulator here), listed under other-origin scripts and not counted.',
    `LCP from the largest-contentful-paint entry, ${RUNS} loads per page; the loopback network makes it a measure of rendering and script cost, not of transfer.`,
    'Framework = the build manifest\'s rootMainFiles, loaded by every page (React, React DOM, the App Router runtime, Turbopack\'s runtime); page + layout = the rest. Next\'s legacy polyfills are nomodule and never fetched by Chromium.',
    'Goal: catalog and product pages ≤ 110 kB gzipped JS, none of it mentioning "stripe", and no script from another origin.',
  ],
});
await cleanupAll();
exitForGoals(missedGoals(rows));
