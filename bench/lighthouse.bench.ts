// Lighthouse on the shop's four shopper pages — catalog, product, cart, checkout — as a phone
// sees them (issue #18: "one router, unless the split measurably pays for itself for shoppers").
//
//   npx tsx bench/lighthouse.bench.ts [--ref <git-ref> | --ref bench/lighthouse-app-router.patch] [--runs 3]
//
// The shop is started as `npm start` starts it (scripts/start.ts: production build, PGlite, the
// bundled Stripe emulator), a cart is filled in Chromium by clicking "Add to cart" on the product
// page (whatever that page's form does in the layout measured), and Lighthouse 12.2.3 loads each
// page `--runs` times with its defaults: mobile emulation (Moto G Power screen) and simulated
// throttling (150 ms RTT, 1.6 Mbit/s down, CPU 4× slower), performance category only, the cart
// cookie sent with every request so the cart and checkout pages have content. Each figure is the
// median of its runs, taken per figure; score and LCP also show their range.
//
// Two layouts in one run: with --ref, a second copy of the app is made from that commit
// (`git archive <ref>` into a temporary folder, node_modules hard-linked from
// this checkout, its own Prisma client, build folder, database, emulator and port), so the
// working tree and the commit are measured side by side by the same Chromium, the runs of the two
// interleaved (run 1 of every page in both layouts, then run 2, …) so a change in the machine's
// load falls on both alike. Each layout is named by what it has: `pages/` for the catalog and
// product pages, or the App Router only. The cart and checkout pages are App Router pages in
// both layouts: their figures show how far two builds of the same page differ (the noise).
//
// Lighthouse is not a dependency (it would slow every install): it runs through
// `npx -y lighthouse@12.2.3` (the newest release that runs on Node 22 here), fetched on first use,
// in Debian's Chromium (CHROME_PATH, default /usr/bin/chromium, `--headless=new --no-sandbox`).
//
// Ports: apps from BENCH_APP_PORT_RANGE (default 3700-3749), emulators from BENCH_PORT_RANGE
// (default 12700-12749). BENCH_RECORD=0 prints without appending to bench/RESULTS.md;
// BENCH_KEEP=1 keeps the run folder (Lighthouse's JSON reports, logs).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { cleanupAll, onCleanup, portFrom, root, runDir, startApp, type App } from './lib/app-process';
import { formatTable, recordResults, type Row } from './lib/results';

const LIGHTHOUSE = 'lighthouse@12.2.3';
const argValue = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const REF = argValue('--ref');
const RUNS = Number(argValue('--runs') ?? 3);
const chromePath = process.env.CHROME_PATH || process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const appPorts = process.env.BENCH_APP_PORT_RANGE || '3700-3749';
const sidePorts = process.env.BENCH_PORT_RANGE || '12700-12749';
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').trim();
const git = (...args: string[]) => {
  const r = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
};

interface Layout {
  /** What it is, for the table. */
  name: string;
  /** Which sources: the working tree or a commit. */
  source: string;
  dir: string;
  app?: App;
  cookie?: string;
  slug?: string;
}

function describeLayout(dir: string): string {
  return existsSync(join(dir, 'pages', 'index.tsx')) ? 'split: pages/ for catalog + product' : 'App Router only';
}

/**
 * The app at `ref`, ready to start: sources from git, node_modules hard-linked, Prisma client
 * generated. In the temporary folder (same disk here, for the hard links), not under this
 * checkout, whose package-lock.json Next would take for the copy's workspace root.
 */
function copyOfRef(ref: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'brisk-lighthouse-'));
  onCleanup(async () => rmSync(dir, { recursive: true, force: true }));
  // A .patch file (bench/lighthouse-app-router.patch: the catalog and product pages in the App
  // Router) is applied to this checkout's HEAD, so the layout can be measured from a fresh clone.
  const patch = ref.endsWith('.patch') ? resolve(root, ref) : null;
  const tar = spawnSync('sh', ['-c', `git archive --format=tar "$0" | tar -x -C "$1"`, patch ? 'HEAD' : ref, dir], { cwd: root, stdio: 'inherit' });
  if (tar.status !== 0) throw new Error(`git archive ${patch ? 'HEAD' : ref} failed`);
  if (patch) {
    const applied = spawnSync('git', ['apply', patch], { cwd: dir, stdio: 'inherit' });
    if (applied.status !== 0) throw new Error(`${ref} does not apply to HEAD`);
  }
  // Hard links: a second 1.2 GB copy in seconds, on the same disk.
  const cp = spawnSync('cp', ['-al', join(root, 'node_modules'), join(dir, 'node_modules')], { stdio: 'inherit' });
  if (cp.status !== 0) throw new Error('could not link node_modules into the copy');
  const gen = spawnSync(process.execPath, [join(dir, 'node_modules', '.bin', 'tsx'), 'scripts/generate.ts'], { cwd: dir, stdio: 'inherit', env: { ...process.env, CHECKPOINT_DISABLE: '1' } });
  if (gen.status !== 0) throw new Error('prisma generate failed in the copy');
  return dir;
}

/** A shopper's cart: "Add to cart" clicked on a product page in Chromium; returns the cart cookie. */
async function fillCart(app: App): Promise<{ cookie: string; slug: string }> {
  const home = await (await fetch(`${app.url}/`)).text();
  const slug = home.match(/<a[^>]*href="\/products\/([^"./]+)"/)?.[1];
  if (!slug) throw new Error('no product link on the catalog page');
  const browser = await chromium.launch({ executablePath: chromePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const page = await browser.newPage();
    const res = await page.goto(`${app.url}/products/${slug}`);
    if (res?.status() !== 200) throw new Error(`the product page answered ${res?.status()}: ${(await res?.text())?.slice(0, 300)}`);
    await page.getByRole('button', { name: 'Add to cart' }).click({ timeout: 10_000 });
    await page.waitForFunction(() => document.querySelector('[data-testid="cart-count"]')?.textContent === '1', null, { timeout: 30_000 });
    const cart = (await page.context().cookies()).find((c) => c.name === 'brisk_cart');
    if (!cart) throw new Error('no cart cookie after "Add to cart"');
    return { cookie: `${cart.name}=${cart.value}`, slug };
  } finally {
    await browser.close();
  }
}

interface Figures {
  score: number;
  fcp: number;
  lcp: number;
  tbt: number;
  cls: number;
  si: number;
  transfer: number;
  jsOwn: number;
  jsOther: number;
}

interface Lhr {
  runtimeError?: { code: string; message: string };
  categories: { performance: { score: number | null } };
  audits: Record<string, { numericValue?: number; details?: { items?: { url: string; resourceType?: string; transferSize?: number }[] } }>;
}

/** One Lighthouse run of `url` (cold: Lighthouse clears the cache first), its report kept in `out`. */
async function lighthouse(url: string, cookie: string, out: string): Promise<Figures> {
  const headersFile = `${out}.headers.json`;
  writeFileSync(headersFile, JSON.stringify({ Cookie: cookie }));
  const args = [
    '-y',
    LIGHTHOUSE,
    url,
    '--output=json',
    `--output-path=${out}`,
    '--only-categories=performance',
    '--chrome-flags=--headless=new --no-sandbox',
    `--extra-headers=${headersFile}`,
    '--quiet',
  ];
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn('npx', args, {
      cwd: root,
      // Node 22 first on the PATH (the one running this bench: the project's pinned `node`).
      env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}`, CHROME_PATH: chromePath },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
    child.on('exit', (c) => {
      if (c !== 0) console.error(err);
      resolve(c);
    });
  });
  if (code !== 0) throw new Error(`lighthouse exited ${code} on ${url}`);
  const lhr = JSON.parse(readFileSync(out, 'utf8')) as Lhr;
  if (lhr.runtimeError) throw new Error(`lighthouse on ${url}: ${lhr.runtimeError.code} ${lhr.runtimeError.message}`);
  const a = (id: string) => {
    const v = lhr.audits[id]?.numericValue;
    if (v === undefined) throw new Error(`no ${id} in the report of ${url}`);
    return v;
  };
  const origin = new URL(url).origin;
  const scripts = (lhr.audits['network-requests']?.details?.items ?? []).filter((r) => r.resourceType === 'Script');
  const sum = (rs: typeof scripts) => rs.reduce((s, r) => s + (r.transferSize ?? 0), 0);
  return {
    score: Math.round((lhr.categories.performance.score ?? NaN) * 100),
    fcp: a('first-contentful-paint'),
    lcp: a('largest-contentful-paint'),
    tbt: a('total-blocking-time'),
    cls: a('cumulative-layout-shift'),
    si: a('speed-index'),
    transfer: a('total-byte-weight'),
    jsOwn: sum(scripts.filter((r) => r.url.startsWith(origin))),
    jsOther: sum(scripts.filter((r) => !r.url.startsWith(origin))),
  };
}

/** Lighthouse now and then fails to record a trace (NO_NAVSTART): such a run is made again, at most twice. */
let retried = 0;
async function lighthouseRetrying(url: string, cookie: string, out: string): Promise<Figures> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await lighthouse(url, cookie, out);
    } catch (err) {
      if (attempt === 3) throw err;
      retried++;
      console.error(`  (run failed, once more: ${err instanceof Error ? err.message : String(err)})`);
    }
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const range = (xs: number[], f: (x: number) => string) => `${f(Math.min(...xs))}–${f(Math.max(...xs))}`;
const ms = (x: number) => x.toFixed(0);
const kb = (x: number) => (x / 1024).toFixed(1);

// ---- the run ----

const loadBefore = loadavg();
const dir = runDir('lighthouse');
const reports = join(dir, 'reports');
mkdirSync(reports, { recursive: true });
const head = git('rev-parse', '--short', 'HEAD');
// The bench's own output (RESULTS.md, results/) does not make the measured sources differ from HEAD.
const dirty = git('status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)bench/RESULTS.md', ':(exclude)bench/results') !== '';
const layouts: Layout[] = [{ name: describeLayout(root), source: `working tree (${head}${dirty ? ' + uncommitted changes' : ''})`, dir: root }];
const pageNames = ['catalog', 'product', 'cart', 'checkout'] as const;
const results = new Map<string, Figures[]>();
const key = (l: Layout, p: string) => `${l.name}|${l.source}|${p}`;

try {
  if (REF) {
    const sha = git('rev-parse', '--short', `${REF}^{commit}`);
    console.log(`copying ${REF} (${sha}) into a temporary folder …`);
    const copy = copyOfRef(REF);
    layouts.push({ name: describeLayout(copy), source: `${REF} (${sha})`, dir: copy });
  }
  console.log(`fetching ${LIGHTHOUSE} …`);
  const v = spawnSync('npx', ['-y', LIGHTHOUSE, '--version'], { cwd: root, encoding: 'utf8', env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` } });
  if (v.status !== 0) throw new Error(`npx ${LIGHTHOUSE} --version: ${v.stderr}`);

  // Both apps up at once (each builds first if its build is stale), then every page of both.
  for (const [i, l] of layouts.entries()) {
    console.log(`starting ${l.name} from ${l.source} (builds first when needed) …`);
    l.app = await startApp({
      label: `app-${i}`,
      via: 'start',
      port: await portFrom(appPorts),
      dataDir: join(dir, `data-${i}`),
      logFile: join(dir, `app-${i}.log`),
      appRoot: l.dir,
      env: { DATABASE_URL: '', STRIPE_SECRET_KEY: '', EMULATOR_PORT: String(await portFrom(sidePorts)), RECONCILE_CRON: 'off' },
    });
    Object.assign(l, await fillCart(l.app));
    console.log(`  ${l.app.url}: cart filled (${l.slug})`);
  }

  for (let run = 1; run <= RUNS; run++) {
    for (const p of pageNames) {
      for (const [i, l] of layouts.entries()) {
        const path = { catalog: '/', product: `/products/${l.slug}`, cart: '/cart', checkout: '/checkout' }[p];
        const f = await lighthouseRetrying(`${l.app!.url}${path}`, l.cookie!, join(reports, `${p}-layout${i}-run${run}.json`));
        console.log(`run ${run} ${p.padEnd(8)} ${l.name.padEnd(36)} score ${f.score}  LCP ${ms(f.lcp)} ms  TBT ${ms(f.tbt)} ms  JS ${kb(f.jsOwn)} kB`);
        results.set(key(l, p), [...(results.get(key(l, p)) ?? []), f]);
      }
    }
  }
  for (const l of layouts) await l.app!.stop();
} catch (err) {
  console.error(err);
  await cleanupAll();
  process.exit(1);
}
const loadAfter = loadavg();

const rows: Row[] = [];
for (const p of pageNames) {
  for (const l of layouts) {
    const fs = results.get(key(l, p))!;
    const m = (k: keyof Figures) => median(fs.map((f) => f[k]));
    rows.push({
      page: p,
      layout: l.name,
      sources: l.source,
      'score (range)': `${m('score')} (${range(fs.map((f) => f.score), String)})`,
      'FCP ms': ms(m('fcp')),
      'LCP ms (range)': `${ms(m('lcp'))} (${range(fs.map((f) => f.lcp), ms)})`,
      'TBT ms': ms(m('tbt')),
      CLS: m('cls').toFixed(3),
      'Speed Index ms': ms(m('si')),
      'transfer kB': kb(m('transfer')),
      'JS kB ours': kb(m('jsOwn')),
      'JS kB other origin': kb(m('jsOther')),
    });
  }
}
console.log('\n' + formatTable(rows));

recordResults({
  name: 'lighthouse',
  title: 'Lighthouse (mobile, simulated throttling): catalog, product, cart, checkout',
  command: `npx tsx bench/lighthouse.bench.ts${REF ? ` --ref ${REF}` : ''}${RUNS !== 3 ? ` --runs ${RUNS}` : ''}`,
  rows,
  notes: [
    `Machine load (/proc/loadavg) before: ${loadBefore}; after: ${loadAfter}. Lighthouse runs that failed and were made again: ${retried}.`,
    `${LIGHTHOUSE} through npx, in ${chromePath} (--headless=new --no-sandbox), Lighthouse's defaults: mobile emulation, simulated throttling (150 ms RTT, 1.6 Mbit/s, 4× CPU), performance category only. ${RUNS} runs per page and layout, interleaved; each figure is the median of its runs (taken per figure), score and LCP with their range.`,
    'Each app started by scripts/start.ts (production build, PGlite, bundled Stripe emulator) on its own port and database; one item in the cart (put there by clicking "Add to cart" in Chromium), its cookie sent on every page. Transfer = total-byte-weight (every response, compressed as served); JS = script responses from our origin, and from another origin (Stripe.js from the emulator, on the checkout page).',
    'The cart and checkout pages are the same App Router code in both layouts: how far their figures differ is the noise of this run.',
    'Left out: simulated throttling estimates a phone from a loopback load on this machine (its CPU time × 4), not a real device or network; every load is cold (empty cache), so the split\'s cost of a second runtime download when a shopper crosses from the catalog to the cart is not seen, nor is the App Router\'s client-side navigation (prefetch, no full reload) between catalog and product; no interaction is measured (INP, the add-to-cart round trip); the emulator serves Stripe.js from loopback, not js.stripe.com; Lighthouse\'s simulated figures are not field data.',
  ],
  data: Object.fromEntries([...results].map(([k, v]) => [k, v])),
});
if (process.env.BENCH_KEEP === '1') console.log(`kept ${dir}`);
else rmSync(dir, { recursive: true, force: true });
await cleanupAll();
