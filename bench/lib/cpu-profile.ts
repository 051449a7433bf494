// Where a server's CPU went: a V8 .cpuprofile (node --cpu-prof) cut to the benchmark's load
// windows (monotonic µs, the clock both V8 and process.hrtime use), summarized as the top
// functions by self time and the time by kind of work, self (where the sample was) and
// inclusive (any frame of the stack of that kind).
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
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
  ['kysely', /node_modules\/kysely\//],
  ['node internals', /^node:|^internal\//],
];

/** Bundled app code by its source file (the build's source maps), first match wins. */
const APP_KINDS: [string, RegExp][] = [
  ['app: lib/db (SQL driver path, Prisma client setup)', /lib\/db\//],
  ['app: lib/checkout', /lib\/checkout\//],
  ['app: lib/orders (webhook, apply, events)', /lib\/orders\//],
  ['app: lib/jobs', /lib\/jobs\//],
  ['app: lib/stripe (gateway)', /lib\/stripe\//],
  ['app: lib/security, proxy.ts (nonce, headers, guards)', /lib\/security\/|proxy\.ts/],
  ['app: lib/observability (logging, metrics, tracing)', /lib\/observability\//],
  ['app: lib/cart, lib/catalog', /lib\/(cart|catalog)\//],
  ['app: lib/generated (Prisma client)', /lib\/generated\//],
  ['app: other lib', /lib\//],
  ['app: pages, layouts, components', /^(\.\.\/)*(app|pages|components)\/|\[project\]\/(app|pages|components)\//],
  ['bundled: next', /node_modules\/next\//],
  ['bundled: react', /node_modules\/react/],
  ['bundled: zod', /node_modules\/zod\//],
  ['bundled: kysely (query builder, compiler, executor)', /node_modules\/kysely\//],
  ['bundled: other packages', /node_modules\//],
];

const maps = new Map<string, SourceMap | null>();
function originalSource(n: Node): string | undefined {
  const url = n.callFrame.url;
  if (!/\.next[^/]*\/server\//.test(url)) return undefined;
  let map = maps.get(url);
  if (map === undefined) {
    map = null;
    try {
      const file = url.startsWith('file:') ? fileURLToPath(url) : url;
      if (existsSync(`${file}.map`)) map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
    } catch {
      map = null;
    }
    maps.set(url, map);
  }
  if (!map) return undefined;
  const e = map.findEntry(n.callFrame.lineNumber, n.callFrame.columnNumber) as { originalSource?: string };
  return e?.originalSource;
}

function kindOf(n: Node): string {
  const src = originalSource(n);
  if (src) {
    for (const [k, re] of APP_KINDS) if (re.test(src)) return k;
    return `app: ${src.replace(/^(\.\.\/)+/, '')}`;
  }
  const key = n.callFrame.url || n.callFrame.functionName;
  for (const [k, re] of KINDS) if (re.test(key)) return k;
  if (!n.callFrame.url) return `native/other: ${n.callFrame.functionName || '(anonymous)'}`;
  return 'other';
}

export function summarizeProfile(file: string, windows: [number, number][], o: { label?: string; kinds?: number; functions?: number } = {}): { text: string; lines: string[] } {
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
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${originalSource(n)?.replace(/^(\.\.\/)+/, '') ?? `${n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^.*\/(\.next[^/]*)\//, '$1/')}:${n.callFrame.lineNumber + 1}`}`;
    selfFn.set(fn, (selfFn.get(fn) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) seen.add(kindOf(byId.get(cur)!));
    for (const s of seen) inclKind.set(s, (inclKind.get(s) ?? 0) + us);
  }
  const busy = total - (selfKind.get('idle') ?? 0);
  const pct = (us: number) => `${((us / Math.max(1, busy)) * 100).toFixed(1)}%`;
  const top = (m: Map<string, number>, n: number) => [...m].filter(([k]) => k !== 'idle' && !k.startsWith('(idle)') && k !== 'native/other: (root)').sort((a, b) => b[1] - a[1]).slice(0, n);
  const label = o.label ?? 'the load windows';
  const lines = [
    `profile, ${label}: ${(busy / 1000).toFixed(0)} ms on CPU (of ${(total / 1000).toFixed(0)} ms sampled; idle excluded from the shares below)`,
    `${label}, self time by kind: ${top(selfKind, o.kinds ?? 14).map(([k, us]) => `${k} ${pct(us)}`).join('; ')}`,
    `${label}, inclusive by kind (any frame of that kind on the stack): ${top(inclKind, o.kinds ?? 14).map(([k, us]) => `${k} ${pct(us)}`).join('; ')}`,
    `${label}, top self functions: ${top(selfFn, o.functions ?? 25).map(([k, us]) => `${k} ${pct(us)}`).join('; ')}`,
  ];
  return { text: lines.join('\n'), lines };
}

// `npx tsx bench/lib/cpu-profile.ts <file.cpuprofile> [<windows.json> <key> [functions]]`: the whole
// profile, or the windows under `key` of a windows.json (bench:server --profile writes one).
if (process.argv[1]?.endsWith('cpu-profile.ts') && process.argv[2]) {
  const [, , file, windowsFile, key, functions] = process.argv;
  const windows = windowsFile ? ((JSON.parse(readFileSync(windowsFile, 'utf8')) as Record<string, [number, number][]>)[key] ?? []) : [];
  console.log(summarizeProfile(file, windows, { label: key, functions: functions ? Number(functions) : undefined }).text);
}
