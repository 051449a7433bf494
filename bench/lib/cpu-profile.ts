// Where a server's CPU went: a V8 .cpuprofile (node --cpu-prof) cut to the benchmark's load
// windows (monotonic µs, the clock both V8 and process.hrtime use), summarized as the top
// functions by self time and the time by kind of work, self (where the sample was) and
// inclusive (any frame of the stack of that kind).
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Kinds of work, by the frame's file (first match wins). */
const KINDS: [string, RegExp][] = [
  ['idle', /^\((idle)\)$/],
  ['GC', /^\(garbage collector\)$/],
  ['(program)', /^\(program\)$/],
  ['PGlite (WebAssembly Postgres)', /@electric-sql\/pglite|pglite-prisma-adapter|wasm:\/\//],
  ['Prisma client', /@prisma\/|lib\/generated|prisma-client/],
  ['pg-boss', /pg-boss/],
  ['pg driver', /node_modules\/(pg|pg-protocol|pg-pool)\//],
  ['stripe SDK', /node_modules\/stripe\//],
  ['logging (pino)', /pino|sonic-boom|thread-stream/],
  ['React Flight (server actions / RSC payload)', /react-server-dom|server\.edge|client\.edge|flight/i],
  ['React render (react-dom/server)', /react-dom|react\.production|react-jsx/],
  ['Next.js server', /next\/dist\/(server|lib|shared|client)/],
  ['Next.js compiled deps', /next\/dist\/compiled/],
  ['app code (bundled: app, lib, proxy.ts)', /\.next[^/]*\/server\//],
  ['tsx loader', /node_modules\/tsx\//],
  ['scripts/serve.ts & lib (unbundled)', /scripts\/serve\.ts|\/lib\//],
  ['zod', /node_modules\/zod\//],
  ['node internals', /^node:|^internal\//],
];

function kindOf(n: Node): string {
  const key = n.callFrame.url || n.callFrame.functionName;
  for (const [k, re] of KINDS) if (re.test(key)) return k;
  if (!n.callFrame.url) return `native/other: ${n.callFrame.functionName || '(anonymous)'}`;
  return 'other';
}

export function summarizeProfile(file: string, windows: [number, number][]): { text: string; lines: string[] } {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let t = prof.startTime;
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i];
    const w = prof.timeDeltas[i + 1] ?? 0;
    if (windows.length && !windows.some(([a, b]) => t >= a && t <= b)) continue;
    self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + w);
    total += w;
  }
  const selfKind = new Map<string, number>();
  const inclKind = new Map<string, number>();
  const selfFn = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const k = kindOf(n);
    selfKind.set(k, (selfKind.get(k) ?? 0) + us);
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^.*\/(\.next[^/]*)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
    selfFn.set(fn, (selfFn.get(fn) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) seen.add(kindOf(byId.get(cur)!));
    for (const s of seen) inclKind.set(s, (inclKind.get(s) ?? 0) + us);
  }
  const busy = total - (selfKind.get('idle') ?? 0);
  const pct = (us: number) => `${((us / Math.max(1, busy)) * 100).toFixed(1)}%`;
  const top = (m: Map<string, number>, n: number) => [...m].filter(([k]) => k !== 'idle').sort((a, b) => b[1] - a[1]).slice(0, n);
  const lines = [
    `profile: ${(busy / 1000).toFixed(0)} ms on CPU in the load windows (of ${(total / 1000).toFixed(0)} ms sampled; idle excluded from the shares below)`,
    `self time by kind: ${top(selfKind, 14).map(([k, us]) => `${k} ${pct(us)}`).join('; ')}`,
    `inclusive by kind (any frame of that kind on the stack): ${top(inclKind, 14).map(([k, us]) => `${k} ${pct(us)}`).join('; ')}`,
    `top self functions: ${top(selfFn, 25).map(([k, us]) => `${k} ${pct(us)}`).join('; ')}`,
  ];
  return { text: lines.join('\n'), lines };
}

// `npx tsx bench/lib/cpu-profile.ts <file.cpuprofile>`: the whole profile, no windows.
if (process.argv[1]?.endsWith('cpu-profile.ts') && process.argv[2]) console.log(summarizeProfile(process.argv[2], []).text);
