// Where a process's CPU went, from a V8 .cpuprofile (node --cpu-prof): self time by package or
// source area, and the top functions.   npx tsx bench/lib/cpuprofile.ts <file.cpuprofile> [top] [skip seconds]
// (skip: leave out the first seconds, e.g. a process's start-up, to see its steady state)
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

function area(url: string, fn: string): string {
  if (!url) return fn === '(garbage collector)' ? 'GC' : fn === '(idle)' ? 'idle' : fn === '(program)' ? 'V8/native (program)' : `native: ${fn || '(anonymous)'}`;
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (m) return m[1];
  if (url.startsWith('node:')) return url.split('/')[0];
  const own = url.match(/\/(lib\/[^/]+|app\/[^/]+|scripts|emulator)\//);
  return own ? own[1] : url.replace(/^.*\//, '');
}

const [file, topArg, skipArg] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
const skipUs = Number(skipArg ?? 0) * 1e6;
let at = 0;
profile.samples.forEach((id, i) => {
  at += profile.timeDeltas[i] ?? 0;
  if (at >= skipUs) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...self.values()].reduce((a, b) => a + b, 0);
const idle = [...self].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
const byArea = new Map<string, number>();
const byFn = new Map<string, number>();
for (const [id, t] of self) {
  const n = byId.get(id)!;
  const a = area(n.callFrame.url, n.callFrame.functionName);
  byArea.set(a, (byArea.get(a) ?? 0) + t);
  const f = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(lib|app|scripts|emulator)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
  byFn.set(f, (byFn.get(f) ?? 0) + t);
}
const pct = (t: number) => `${((t / (total - idle)) * 100).toFixed(1)}%`;
console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(idle / 1e6).toFixed(1)} s idle, busy ${((total - idle) / 1e6).toFixed(1)} s`);
console.log('\nself time by area (share of busy time):');
for (const [a, t] of [...byArea].filter(([a]) => a !== 'idle').sort((x, y) => y[1] - x[1]).slice(0, 15)) console.log(`  ${pct(t).padStart(6)}  ${a}`);
console.log('\ntop functions (self):');
for (const [f, t] of [...byFn].sort((x, y) => y[1] - x[1]).filter(([f]) => !f.startsWith('(idle)')).slice(0, Number(topArg ?? 20))) console.log(`  ${pct(t).padStart(6)}  ${f}`);
