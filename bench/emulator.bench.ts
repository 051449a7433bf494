// Emulator throughput: PaymentIntent creations per second on one core, against a bare Node
// HTTP server answering a fixed JSON body through the same keep-alive client.
//
//   npx tsx bench/emulator.bench.ts [--quick]
//
// The server under test runs in a child process pinned to one CPU (taskset, when present); the
// load generator runs here, pinned to another CPU when there is one. Goal: ≥ 1,500 creations/s.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isQuick, percentile, recordResults, type Row } from './lib/results';

const GOAL = 1500;
const self = fileURLToPath(import.meta.url);
const childArg = process.argv.indexOf('--child');

// A body the size of a real PaymentIntent, for the baseline server.
const FIXED_BODY = JSON.stringify({
  id: 'pi_3Baseline0000000000000000',
  object: 'payment_intent',
  amount: 1000,
  currency: 'usd',
  status: 'requires_payment_method',
  client_secret: 'pi_3Baseline0000000000000000_secret_xxxxxxxxxxxxxxxxxxxxxxxxx',
  metadata: { order_id: 'o_1' },
  padding: 'x'.repeat(1400),
});

async function runChild(kind: string): Promise<void> {
  if (kind === 'baseline') {
    const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(FIXED_BODY) });
        res.end(FIXED_BODY);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    console.log(JSON.stringify({ port, secretKey: 'none' }));
    return;
  }
  const { startEmulator } = await import('../emulator/src/server');
  const dataFile = kind === 'emulator-persistent' ? `${process.env.TMPDIR ?? '/tmp'}/emulator-bench-${process.pid}/stripe.json` : undefined;
  const emu = await startEmulator({ port: 0, dataFile });
  console.log(JSON.stringify({ port: emu.port, secretKey: emu.secretKey }));
  process.on('SIGTERM', () =>
    void emu.close().then(() => {
      if (dataFile) rmSync(dirname(dataFile), { recursive: true, force: true });
      process.exit(0);
    }),
  );
}

interface Started {
  child: ChildProcess;
  port: number;
  secretKey: string;
}

const hasTaskset = spawnSync('taskset', ['--version']).status === 0;
const cores = availableParallelism();

function startChild(kind: string): Promise<Started> {
  const nodeArgs = ['--import', 'tsx', self, '--child', kind];
  const [cmd, args] = hasTaskset ? ['taskset', ['-c', '0', process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once('line', (line) => {
      const info = JSON.parse(line) as { port: number; secretKey: string };
      resolve({ child, ...info });
    });
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code}`)));
  });
}

function stopChild(started: Started): Promise<void> {
  return new Promise((resolve) => {
    started.child.once('exit', () => resolve());
    started.child.kill('SIGTERM');
  });
}

interface Load {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function drive(port: number, secretKey: string, opts: { count: number; maxSeconds: number; concurrency: number }): Promise<Load> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const latencies: number[] = [];
  let sent = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + opts.maxSeconds * 1000;
  const post = (n: number) =>
    new Promise<number>((resolve) => {
      const body = `amount=${1000 + (n % 5000)}&currency=usd&metadata[order_id]=o_${n}&automatic_payment_methods[enabled]=true`;
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/v1/payment_intents',
          method: 'POST',
          agent,
          headers: {
            Authorization: `Bearer ${secretKey}`,
            'Content-Type': 'application/x-www-form-urlencoded',
            'Content-Length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(0));
      req.end(body);
    });
  const worker = async () => {
    while (sent < opts.count && performance.now() < deadline) {
      const n = sent++;
      const t0 = performance.now();
      const status = await post(n);
      latencies.push(performance.now() - t0);
      if (status !== 200) errors++;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { requests: latencies.length, seconds, rps: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors };
}

async function measure(kind: string, opts: { count: number; maxSeconds: number; concurrency: number }): Promise<Load> {
  const started = await startChild(kind);
  try {
    // Warm up the JIT and the sockets before measuring.
    await drive(started.port, started.secretKey, { count: Math.min(2000, opts.count), maxSeconds: 3, concurrency: opts.concurrency });
    return await drive(started.port, started.secretKey, opts);
  } finally {
    await stopChild(started);
  }
}

async function main(): Promise<void> {
  if (hasTaskset && cores > 1) spawnSync('taskset', ['-a', '-cp', '1', String(process.pid)]);
  const loadAtStart = loadavg()[0];
  const opts = isQuick ? { count: 5000, maxSeconds: 5, concurrency: 16 } : { count: 30_000, maxSeconds: 10, concurrency: 32 };
  // Interleaved rounds, best of each: the machine is shared, so one round can be disturbed.
  const rounds = isQuick ? 1 : 3;
  const best: Record<string, Load> = {};
  for (let round = 0; round < rounds; round++) {
    for (const kind of ['baseline', 'emulator', 'emulator-persistent']) {
      const load = await measure(kind, opts);
      process.stderr.write(`round ${round + 1} ${kind}: ${Math.round(load.rps)}/s p50 ${load.p50.toFixed(2)} ms p99 ${load.p99.toFixed(2)} ms\n`);
      if (!best[kind] || load.rps > best[kind].rps) best[kind] = load;
    }
  }
  const { baseline, emulator, 'emulator-persistent': persistent } = best;
  // recordResults reports the machine's cores: undo this process's pinning first.
  if (hasTaskset && cores > 1) spawnSync('taskset', ['-a', '-cp', `0-${cores - 1}`, String(process.pid)]);
  const row = (name: string, l: Load): Row => ({
    server: name,
    requests: l.requests,
    'per second': Math.round(l.rps),
    'p50 ms': l.p50.toFixed(2),
    'p99 ms': l.p99.toFixed(2),
    errors: l.errors,
    'vs baseline': `${((l.rps / baseline.rps) * 100).toFixed(0)}%`,
  });
  const met = emulator.rps >= GOAL && persistent.rps >= GOAL;
  recordResults({
    name: 'emulator',
    title: 'Stripe emulator: PaymentIntent creations',
    command: `npx tsx bench/emulator.bench.ts${isQuick ? ' --quick' : ''}`,
    rows: [row('bare node:http, fixed JSON (baseline)', baseline), row('emulator (in memory)', emulator), row('emulator (dataFile persistence)', persistent)],
    notes: [
      `POST /v1/payment_intents over keep-alive HTTP, ${opts.concurrency} concurrent, up to ${opts.count} requests or ${opts.maxSeconds} s after a warm-up, best of ${rounds} interleaved round(s); server process ${hasTaskset ? 'pinned to CPU 0 with taskset' : 'not pinned (no taskset)'}, load generator ${hasTaskset && cores > 1 ? 'on CPU 1' : 'unpinned'}.`,
      `Each creation validates, stores the PaymentIntent, emits payment_intent.created and answers the full object.`,
      `Load average when the run began: ${loadAtStart.toFixed(1)} (the machine is shared; other work lowers every figure, the baseline's too).`,
      `Goal ≥ ${GOAL}/s: ${met ? 'met' : 'NOT met'}.`,
    ],
    data: { opts, baseline, emulator, persistent },
  });
  if (!met) process.exitCode = 1;
}

if (childArg !== -1) await runChild(process.argv[childArg + 1]);
else await main();
