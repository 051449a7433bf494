// One abusive client against everyone's Stripe budget (issue 15 §5): the real server, started as
// a merchant starts it (scripts/start.ts, default settings: the gateway's rate budget of 80% of
// test mode's 25 requests/s, the in-process worker), with a counting proxy between it and the
// Stripe emulator, so every request the server sends to "Stripe" is counted and attributed.
//
//   npx tsx bench/abuse.bench.ts [--quick] [--db pglite|postgres|both]
//
// The hammering client (its own loopback address) adds to cart, then for HAMMER_SECONDS sends
// HAMMER_RATE requests/s (open loop), alternating the checkout's Pay (the startPaymentAction
// server action, as the browser posts it) and a GET of its order page (once it has one). It
// never pays. Meanwhile HONEST shoppers, each with its own cart, email and loopback address,
// arrive one after another: add to cart, Pay, confirm at the emulator as Stripe.js does (the
// publishable key and the client secret, straight to "Stripe", not through our server), then
// load their order page until it says Paid.
//
// Goals (exit 1 when one is missed): the hammering client costs at most 1 Stripe request per
// second over the run (every request naming its PaymentIntent, or carrying its order's
// idempotency key, counted from its first Pay), and every honest shopper pays without once
// being answered busy or throttled. The hammering load itself must have been delivered, or
// its low cost would mean nothing.
//
// Ports: any free ones, or the app's from BENCH_APP_PORT_RANGE and the emulator's and the
// proxy's from BENCH_PORT_RANGE (e.g. 3600-3699 and 12600-12699). PostgreSQL: a temporary database on BENCH_DATABASE_URL's server (default
// postgresql://postgres@127.0.0.1:5432/postgres).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { actionIds, prepareDatabase } from '../chaos/lib/harness';
import { createTokenInBrowser } from '../chaos/lib/shopper';
import { startCountingProxy, type CountingProxy } from '../tests/helpers/counting-proxy';
import { cleanupAll, createDatabase, portFrom, runDir, sleep, startApp, startEmulatorProcess } from './lib/app-process';
import { LoopbackBrowser } from './lib/browser-client';
import { describeProbes, probeMachine } from './lib/probe';
import { exitForGoals, isQuick, missedGoals, percentile, recordResults, type Row } from './lib/results';

const HAMMER_RATE = Number(process.env.BENCH_HAMMER_RATE ?? 100);
const HAMMER_SECONDS = Number(process.env.BENCH_HAMMER_SECONDS ?? (isQuick ? 10 : 20));
// High enough that the offered rate reaches the server even when it answers slowly (it queues
// there, as a real flood would): a low cap would quietly turn the flood into a trickle.
const HAMMER_MAX_IN_FLIGHT = 400;
const HONEST = Number(process.env.BENCH_HONEST ?? 20);
/** Honest shoppers arrive evenly over this share of the hammering, so each one meets it. */
const HONEST_SPREAD = 0.75;
const PAID_WITHIN_MS = 30_000;
const GOAL_HAMMER_PER_SECOND = 1;
/** The hammering must have been sent (not skipped for the in-flight cap) and answered. */
const GOAL_LOAD_DELIVERED = 0.9;
const KEYS = { secret: 'sk_test_brisk_bench_abuse', publishable: 'pk_test_brisk_bench_abuse', webhook: 'whsec_brisk_bench_abuse' };
const DETAILS = { name: 'Bench Shopper', city: 'Testville', postalCode: '94107', country: 'US' };
const HAMMER_ADDRESS = '127.0.0.2';
const honestAddress = (phase: Phase, i: number) => `127.0.${phase === 'beside' ? 1 : 2}.${10 + i}`;
/** The honest shoppers run twice: alone (the baseline), then beside the hammering client. */
type Phase = 'alone' | 'beside';

const dbArg = process.argv.includes('--db') ? process.argv[process.argv.indexOf('--db') + 1] : 'pglite';
const kinds = dbArg === 'both' ? (['pglite', 'postgres'] as const) : dbArg === 'postgres' ? (['postgres'] as const) : (['pglite'] as const);
// Next.js refuses to listen on ports browsers block (3659 is one): never pick those for the app.
const { isPortIsReserved } = createRequire(import.meta.url)('next/dist/lib/helpers/get-reserved-port.js') as { isPortIsReserved: (port: number) => boolean };
async function appPort(): Promise<number> {
  for (let tries = 0; ; tries++) {
    const port = await portFrom(process.env.BENCH_APP_PORT_RANGE);
    if (!isPortIsReserved(port) || tries > 20) return port;
  }
}
const sidePort = () => portFrom(process.env.BENCH_PORT_RANGE);

interface HonestOutcome {
  i: number;
  address: string;
  paid: boolean;
  /** Answers other than "ready" to Pay, by kind (busy and throttled are the goal's concern). */
  refusals: Record<string, number>;
  paymentIntentId?: string;
  /** Order pages that said the payment provider could not be reached. */
  providerUnavailablePages: number;
  pageLoads: number;
  /** From arrival to the order page showing Paid. */
  msToPaid?: number;
  error?: string;
}

interface HammerFigures {
  planned: number;
  sent: number;
  skipped: number;
  answered: number;
  failed: number;
  submits: Record<string, number>;
  pages: Record<string, number>;
  submitMs: number[];
  pageMs: number[];
  paymentIntentId?: string;
  orderToken?: string;
}

const count = (m: Record<string, number>, k: string) => void (m[k] = (m[k] ?? 0) + 1);
const fmt = (m: Record<string, number>) =>
  Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ') || '—';

async function stripeGet<T>(emulatorUrl: string, path: string): Promise<T> {
  // Straight to the emulator (not through the proxy): the benchmark's own reads are not the app's.
  const r = await fetch(`${emulatorUrl}${path}`, { headers: { authorization: `Bearer ${KEYS.secret}` } });
  if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

async function runKind(kind: 'pglite' | 'postgres'): Promise<{ rows: Row[]; notes: string[]; data: unknown }> {
  const dir = runDir(`abuse-bench-${kind}`);
  const port = await appPort();
  const emulator = await startEmulatorProcess({
    label: `emulator (${kind})`,
    logFile: join(dir, 'emulator.log'),
    port: await sidePort(),
    secretKey: KEYS.secret,
    publishableKey: KEYS.publishable,
    webhookSecret: KEYS.webhook,
    webhookUrl: `http://127.0.0.1:${port}/api/stripe/webhook`,
  });
  let proxy: CountingProxy | undefined;
  for (let tries = 0; !proxy; tries++) {
    try {
      proxy = await startCountingProxy(emulator.url, await sidePort());
    } catch (err) {
      if (tries >= 5) throw err;
    }
  }
  const dataDir = join(dir, 'data');
  let databaseUrl = '';
  if (kind === 'postgres') databaseUrl = (await createDatabase('brisk_abuse')).url;
  // Migrated and seeded here first (stock made plentiful, so no shopper meets "sold out"), then
  // closed: PGlite's directory is the server's alone once it runs.
  const db = await prepareDatabase(kind === 'postgres' ? { url: databaseUrl } : { dataDir });
  const products = (await db.prisma.product.findMany({ where: { active: true }, orderBy: { slug: 'asc' } })).map((p) => ({ id: p.id, slug: p.slug, price: p.price }));
  await db.close();

  const app = await startApp({
    label: `app (${kind})`,
    via: 'start',
    port,
    dataDir,
    logFile: join(dir, 'app.log'),
    env: {
      DATABASE_URL: databaseUrl,
      ...(kind === 'postgres' ? { APP_SECRET: 'abuse-bench-app-secret-0123456789abcdef' } : {}),
      STRIPE_SECRET_KEY: KEYS.secret,
      NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY: KEYS.publishable,
      STRIPE_WEBHOOK_SECRET: KEYS.webhook,
      // The server reaches "Stripe" only through the counting proxy; browsers go to it directly.
      STRIPE_API_BASE: proxy.url,
      STRIPE_JS_URL: `${emulator.url}/v3/`,
    },
  });
  console.log(`[${kind}] app ready on :${port} in ${(app.startMs / 1000).toFixed(1)} s; emulator ${emulator.url}, counting proxy ${proxy.url}`);
  const browserToken = async (card: string): Promise<string> => {
    const token = await createTokenInBrowser({ stripeUrl: emulator.url, publishableKey: KEYS.publishable, card });
    if (!token) throw new Error('could not make a ConfirmationToken');
    return token;
  };
  const actionId = actionIds().startPaymentAction;
  if (!actionId) throw new Error('no startPaymentAction in this build');

  // Warm the routes (first renders compile and open connections), uncounted: one shopper pays.
  {
    const warm = new LoopbackBrowser(port, '127.0.0.250');
    const p = products[0];
    if (!(await warm.addToCart(p)).ok) throw new Error('warm-up: add to cart failed');
    const s = await warm.startPayment(actionId, { ...DETAILS, email: 'warm@example.com', addressLine1: '0 Warm St', expectedAmount: p.price, confirmationToken: await browserToken('pm_card_visa') });
    if (s.result?.kind !== 'submitted') throw new Error(`warm-up: Pay answered ${s.http} ${JSON.stringify(s.result)}`);
    for (let i = 0; i < 50 && (await warm.viewOrder(s.result.orderToken)).status !== 'Paid'; i++) await sleep(200);
    warm.close();
    await sleep(1_500);
  }

  const honest = async (phase: Phase, start: number, i: number): Promise<HonestOutcome> => {
    const arrive = start + ((i + 0.5) * HONEST_SPREAD * HAMMER_SECONDS * 1000) / HONEST;
    await sleep(Math.max(0, arrive - performance.now()));
    const address = honestAddress(phase, i);
    const b = new LoopbackBrowser(port, address, true);
    const out: HonestOutcome = { i, address, paid: false, refusals: {}, providerUnavailablePages: 0, pageLoads: 0 };
    try {
      const product = products[i % products.length];
      const added = await b.addToCart(product);
      if (!added.ok) throw new Error(`add to cart: ${added.error}`);
      // The card's ConfirmationToken (Stripe.js, in the browser), sent again with each retry.
      const input = { ...DETAILS, email: `${phase}+${i}@example.com`, addressLine1: `${i + 2} Honest St`, expectedAmount: product.price, confirmationToken: await browserToken('pm_card_visa') };
      // A refused Pay is retried when the message says to (as a patient shopper would), so the
      // run also shows whether they got through in the end; the goal counts every refusal.
      let ready: { paymentIntentId: string; orderToken: string } | null = null;
      for (let tries = 0; !ready && tries < 5; tries++) {
        const s = await b.startPayment(actionId, input);
        if (s.result?.kind === 'submitted') ready = s.result;
        else {
          count(out.refusals, s.result ? s.result.kind : `HTTP ${s.http}`);
          const after = s.result && 'retryAfterSeconds' in s.result ? s.result.retryAfterSeconds : 1;
          await sleep(after * 1000);
        }
      }
      if (!ready) throw new Error(`Pay never answered ready (${fmt(out.refusals)})`);
      // Paid at Stripe in the server's one call.
      out.paymentIntentId = ready.paymentIntentId;
      // The browser goes to the order page at once, then it refreshes itself (every second or so).
      const deadline = performance.now() + PAID_WITHIN_MS;
      while (performance.now() < deadline) {
        const v = await b.viewOrder(ready.orderToken);
        out.pageLoads++;
        if (v.providerUnavailable) out.providerUnavailablePages++;
        if (v.status === 'Paid') {
          out.paid = true;
          out.msToPaid = performance.now() - arrive;
          break;
        }
        await sleep(1_000);
      }
      if (!out.paid) out.error = `not Paid within ${PAID_WITHIN_MS / 1000} s`;
    } catch (err) {
      out.error = err instanceof Error ? err.message : String(err);
    } finally {
      b.close();
    }
    return out;
  };

  // ---- the baseline: the honest shoppers alone, on the same schedule ----
  const aloneStart = performance.now();
  const aloneOutcomes = await Promise.all(Array.from({ length: HONEST }, (_, i) => honest('alone', aloneStart, i)));
  await sleep(1_500);

  // ---- the run ----
  const hammer = new LoopbackBrowser(port, HAMMER_ADDRESS, true, HAMMER_MAX_IN_FLIGHT);
  const hammerProduct = products[products.length - 1];
  if (!(await hammer.addToCart(hammerProduct)).ok) throw new Error('hammer: add to cart failed');
  // A 3-D Secure card: the hammer's order stays unpaid (its PaymentIntent waits for a challenge
  // nobody completes), so its page loads keep asking Stripe, as an unpaid order page would.
  const hammerInput = { ...DETAILS, email: 'hammer@example.com', addressLine1: '1 Hammer St', expectedAmount: hammerProduct.price, confirmationToken: await browserToken('pm_card_authenticationRequired') };
  const hf: HammerFigures = { planned: Math.round(HAMMER_RATE * HAMMER_SECONDS), sent: 0, skipped: 0, answered: 0, failed: 0, submits: {}, pages: {}, submitMs: [], pageMs: [] };

  proxy.reset();
  const probeBefore = probeMachine();
  const t0 = performance.now();

  const hammering = (async () => {
    const pending = new Set<Promise<void>>();
    for (let k = 0; k < hf.planned; k++) {
      const due = t0 + (k * 1000) / HAMMER_RATE;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      if (pending.size >= HAMMER_MAX_IN_FLIGHT) {
        hf.skipped++;
        continue;
      }
      hf.sent++;
      const token = hf.orderToken;
      const page = k % 2 === 1 && token !== undefined;
      const p = (
        page
          ? hammer.viewOrder(token).then((v) => {
              count(hf.pages, v.http === 200 ? (v.providerUnavailable ? `${v.status} (provider unavailable)` : String(v.status)) : `HTTP ${v.http}`);
              hf.pageMs.push(v.ms);
              if (v.http === 200) hf.answered++;
            })
          : hammer.startPayment(actionId, hammerInput).then((s) => {
              count(hf.submits, s.result ? s.result.kind : `HTTP ${s.http}`);
              hf.submitMs.push(s.ms);
              if (s.http === 200) hf.answered++;
              if (s.result?.kind === 'requires_action' && !hf.orderToken) {
                hf.orderToken = s.result.orderToken;
                hf.paymentIntentId = s.result.paymentIntentId;
              }
            })
      )
        .catch(() => void hf.failed++)
        .finally(() => pending.delete(p));
      pending.add(p);
    }
    await Promise.all(pending);
  })();

  const honestOutcomes = await Promise.all(Array.from({ length: HONEST }, (_, i) => honest('beside', t0, i)));
  await hammering;
  const hammerEnd = performance.now();
  // What the run set in motion and is still sending (webhook jobs, retries): counted apart.
  await sleep(3_000);
  const drainEnd = performance.now();
  // What one request of each kind costs the server, one at a time once the flood is over (a
  // flood answered more slowly than it arrives queues, and everyone waits behind it).
  const oneAtATime: { pay: number[]; page: number[] } = { pay: [], page: [] };
  if (hf.orderToken) {
    for (let i = 0; i < 30; i++) {
      oneAtATime.page.push((await hammer.viewOrder(hf.orderToken)).ms);
      oneAtATime.pay.push((await hammer.startPayment(actionId, hammerInput)).ms);
    }
  }
  oneAtATime.pay.sort((a, b) => a - b);
  oneAtATime.page.sort((a, b) => a - b);
  const probeAfter = probeMachine();
  hammer.close();

  // ---- attribution ----
  const requests = [...proxy.requests];
  const hammerOrderId = hf.paymentIntentId ? (await stripeGet<{ metadata: { order_id?: string } }>(emulator.url, `/v1/payment_intents/${hf.paymentIntentId}`)).metadata.order_id : undefined;
  const honestPis = honestOutcomes.map((o) => o.paymentIntentId).filter((x): x is string => Boolean(x));
  const honestOrderIds = new Set<string>();
  for (const pi of honestPis) {
    const id = (await stripeGet<{ metadata: { order_id?: string } }>(emulator.url, `/v1/payment_intents/${pi}`)).metadata.order_id;
    if (id) honestOrderIds.add(id);
  }
  const orderOfKey = (key?: string) => key?.match(/^brisk:pi:([^:]+):/)?.[1];
  const piOfPath = (path: string) => path.match(/\/v1\/payment_intents\/(pi_[A-Za-z0-9]+)/)?.[1];
  const hammerPis = new Set(hf.paymentIntentId ? [hf.paymentIntentId] : []);
  const honestPiSet = new Set(honestPis);
  const owner = (r: (typeof requests)[number]): 'hammer' | 'honest' | 'other' => {
    const pi = piOfPath(r.path);
    const order = orderOfKey(r.idempotencyKey);
    if ((pi && hammerPis.has(pi)) || (order && order === hammerOrderId)) return 'hammer';
    if ((pi && honestPiSet.has(pi)) || (order && honestOrderIds.has(order))) return 'honest';
    return 'other';
  };
  const during = requests.filter((r) => r.at >= t0 && r.at < hammerEnd);
  const after = requests.filter((r) => r.at >= hammerEnd && r.at < drainEnd);
  const seconds = (hammerEnd - t0) / 1000;
  const by = (rs: typeof requests, who: string) => rs.filter((r) => owner(r) === who);
  const hammerDuring = by(during, 'hammer');
  for (const r of by(requests, 'hammer')) console.log(`[${kind}] hammer's Stripe request at ${((r.at - t0) / 1000).toFixed(3)} s: ${r.method} ${r.path}${r.idempotencyKey ? ` (key ${r.idempotencyKey})` : ''}`);
  const hammerCreates = hammerDuring.filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents');
  const hammerKeys = new Set(hammerCreates.map((r) => r.idempotencyKey));
  const hammerPerSecond = hammerDuring.length / seconds;
  const maxIn1s = (rs: typeof requests) => {
    const t = rs.map((r) => r.at).sort((a, b) => a - b);
    let best = 0;
    for (let i = 0, j = 0; i < t.length; i++) {
      while (t[i] - t[j] >= 1000) j++;
      best = Math.max(best, i - j + 1);
    }
    return best;
  };
  const kindsOf = (rs: typeof requests) => {
    const m: Record<string, number> = {};
    for (const r of rs) count(m, `${r.method} ${r.path.replace(/pi_[A-Za-z0-9]+/, 'pi_…').replace(/\?.*$/, '')}`);
    return fmt(m);
  };

  const aloneToPaid = aloneOutcomes.filter((o) => o.msToPaid !== undefined).map((o) => o.msToPaid!).sort((a, b) => a - b);
  const paid = honestOutcomes.filter((o) => o.paid).length;
  const turnedAway = honestOutcomes.filter((o) => (o.refusals.busy ?? 0) + (o.refusals.throttled ?? 0) > 0).length;
  const refusalsAll: Record<string, number> = {};
  for (const o of honestOutcomes) for (const [k, n] of Object.entries(o.refusals)) refusalsAll[k] = (refusalsAll[k] ?? 0) + n;
  const toPaid = honestOutcomes.filter((o) => o.msToPaid !== undefined).map((o) => o.msToPaid!).sort((a, b) => a - b);
  const delivered = hf.answered / hf.planned;
  hf.submitMs.sort((a, b) => a - b);
  hf.pageMs.sort((a, b) => a - b);

  const rows: Row[] = [
    {
      database: kind,
      measure: 'hammering client: Stripe requests (from its first Pay)',
      figure: `${hammerDuring.length} in ${seconds.toFixed(1)} s = ${hammerPerSecond.toFixed(2)}/s (most in any 1 s: ${maxIn1s(hammerDuring)}); after the run ${by(after, 'hammer').length}`,
      detail: `${kindsOf(hammerDuring)}; creations under ${hammerKeys.size} idempotency key(s)`,
      goal: `≤ ${GOAL_HAMMER_PER_SECOND}/s: ${hammerPerSecond <= GOAL_HAMMER_PER_SECOND && hf.paymentIntentId ? 'met' : 'NOT met'}`,
    },
    {
      database: kind,
      measure: 'hammering client: load delivered',
      figure: `${hf.answered} of ${hf.planned} planned requests answered 200 (${(delivered * 100).toFixed(0)}%; ${hf.skipped} skipped at ${HAMMER_MAX_IN_FLIGHT} in flight, ${hf.failed} failed)`,
      detail: `Pay ×${Object.values(hf.submits).reduce((a, b) => a + b, 0)}: ${fmt(hf.submits)} (p50 ${percentile(hf.submitMs, 50).toFixed(0)} ms, p99 ${percentile(hf.submitMs, 99).toFixed(0)} ms); order page ×${hf.pageMs.length}: ${fmt(hf.pages)} (p50 ${percentile(hf.pageMs, 50).toFixed(0)} ms, p99 ${percentile(hf.pageMs, 99).toFixed(0)} ms)`,
      goal: `≥ ${GOAL_LOAD_DELIVERED * 100}%: ${delivered >= GOAL_LOAD_DELIVERED ? 'met' : 'NOT met'}`,
    },
    {
      database: kind,
      measure: `honest shoppers (${HONEST}, one address each)`,
      figure: `${paid} of ${HONEST} paid; ${turnedAway} turned away at least once (busy/throttled)`,
      detail: `Pay refusals: ${fmt(refusalsAll)}; order pages saying the provider was unreachable: ${honestOutcomes.reduce((s, o) => s + o.providerUnavailablePages, 0)} of ${honestOutcomes.reduce((s, o) => s + o.pageLoads, 0)}; arrival → Paid p50 ${percentile(toPaid, 50).toFixed(0)} ms, max ${(toPaid[toPaid.length - 1] ?? NaN).toFixed(0)} ms${honestOutcomes.some((o) => o.error) ? `; errors: ${honestOutcomes.filter((o) => o.error).map((o) => `#${o.i} ${o.error}`).join('; ')}` : ''}`,
      goal: `all paid, none turned away: ${paid === HONEST && turnedAway === 0 ? 'met' : 'NOT met'}`,
    },
    {
      database: kind,
      measure: 'the same honest shoppers alone, just before (baseline)',
      figure: `${aloneOutcomes.filter((o) => o.paid).length} of ${HONEST} paid; arrival → Paid p50 ${percentile(aloneToPaid, 50).toFixed(0)} ms, max ${(aloneToPaid[aloneToPaid.length - 1] ?? NaN).toFixed(0)} ms`,
      detail: `Pay refusals: ${fmt(aloneOutcomes.reduce((m, o) => { for (const [k, n] of Object.entries(o.refusals)) m[k] = (m[k] ?? 0) + n; return m; }, {} as Record<string, number>))}${aloneOutcomes.some((o) => o.error) ? `; errors: ${aloneOutcomes.filter((o) => o.error).map((o) => `#${o.i} ${o.error}`).join('; ')}` : ''}`,
      goal: '—',
    },
    {
      database: kind,
      measure: "server time per request, one at a time after the flood (the hammering client's own)",
      figure: `order page p50 ${percentile(oneAtATime.page, 50).toFixed(1)} ms, Pay (throttled or from our records) p50 ${percentile(oneAtATime.pay, 50).toFixed(1)} ms`,
      detail: `so the ${HAMMER_RATE}/s flood, half of each, asks for about ${((HAMMER_RATE / 2) * (percentile(oneAtATime.page, 50) + percentile(oneAtATime.pay, 50)) / 10).toFixed(0)}% of one core at those times (30 of each, round trip on loopback)`,
      goal: '—',
    },
    {
      database: kind,
      measure: 'every Stripe request the server sent during the run',
      figure: `${during.length} = ${(during.length / seconds).toFixed(1)}/s (most in any 1 s: ${maxIn1s(during)}; the budget is 20/s): hammering ${hammerDuring.length}, honest ${by(during, 'honest').length}, other ${by(during, 'other').length}`,
      detail: `honest: ${kindsOf(by(during, 'honest'))}; other: ${kindsOf(by(during, 'other'))}; in the ${((drainEnd - hammerEnd) / 1000).toFixed(0)} s after: ${after.length}`,
      goal: '—',
    },
  ];
  const notes = [describeProbes(probeBefore, probeAfter)];
  await app.stop();
  await proxy.close();
  await emulator.stop(2_000);
  return { rows, notes, data: { kind, hammer: { ...hf, submitMs: undefined, pageMs: undefined }, honest: honestOutcomes, alone: aloneOutcomes, requests: requests.map((r) => ({ ...r, owner: owner(r), at: r.at - t0 })) } };
}

const rows: Row[] = [];
const notes: string[] = [];
const data: unknown[] = [];
try {
  for (const kind of kinds) {
    const r = await runKind(kind);
    rows.push(...r.rows);
    notes.push(...r.notes.map((n) => `${kind}: ${n}`));
    data.push(r.data);
    for (const row of r.rows) console.log(JSON.stringify(row));
  }
} catch (err) {
  console.error(err);
  await cleanupAll();
  process.exit(1);
}
await cleanupAll();
recordResults({
  name: 'abuse',
  title: 'One client hammering checkout and its order page, honest shoppers beside it: Stripe requests',
  command: `npx tsx bench/abuse.bench.ts${isQuick ? ' --quick' : ''}${dbArg !== 'pglite' ? ` --db ${dbArg}` : ''}`,
  rows,
  notes: [
    `Production build started by scripts/start.ts as a merchant starts it, default settings (rate budget 80% of test mode's 25/s, in memory on PGlite and shared through PostgreSQL; the in-process worker; STRIPE_API_BASE pointing at a counting proxy in front of the emulator, which runs in its own process and delivers webhooks to the app).`,
    `Hammering client (${HAMMER_ADDRESS}): one cart, ${HAMMER_RATE} requests/s for ${HAMMER_SECONDS} s (open loop, at most ${HAMMER_MAX_IN_FLIGHT} in flight), alternating Pay (the startPaymentAction server action, as the browser posts it) and GET of its order page, which it never pays. Its Stripe requests are those whose path names its PaymentIntent or whose idempotency key names its order, from its first Pay (the creation of its PaymentIntent included) to its last answer.`,
    `Honest shoppers: ${HONEST}, each with its own cart, email and loopback address (127.0.1.10…), arriving evenly over the first ${HONEST_SPREAD * 100}% of the run: add to cart, Pay, confirm at the emulator with the publishable key and client secret (not through our server), then the order page every second until Paid (≤ ${PAID_WITHIN_MS / 1000} s). A busy or throttled Pay is retried after the wait it names, and counts against the goal. The baseline row runs the same shoppers (other carts, emails and addresses, 127.0.2.10…) on the same schedule with no hammering, just before: its time to Paid is what the hammering adds to.`,
    'Client addresses: each client binds its sockets to its own loopback address and also sends X-Forwarded-For with that same address, so a server that derives the client from the header (main until the trusted-proxy change) and one that trusts only the TCP peer both see the same, true address.',
    'What the figure leaves out: one server process (the per-process submit limits and the order-page reuse of lib/checkout/order-view.ts multiply by the number of instances, and the reuse by the number of bundle copies of that module); how long the flood makes everyone else wait is shown (arrival → Paid against the baseline) but not judged: page loads are not limited per client, so a flood the server cannot answer as fast as it comes queues everyone behind it; one hammering cart (a client rotating carts is bounded by the per-address limit and the card-testing throttle, not measured here; loopback addresses are exempt from that throttle); webhooks from the emulator arrive within milliseconds, where Stripe may take seconds; the honest shoppers never see 3-D Secure or a decline; the Stripe.js requests of browsers (confirm, retrieve) go to Stripe on the publishable key and are not counted, as they do not draw on the server\'s budget.',
    ...notes,
  ],
  data,
});
exitForGoals(missedGoals(rows));
