// How fast this (shared) machine is right now, so runs made minutes apart can be read side by
// side: the same fixed work each time, one part compute-bound (HMAC) and one bound by memory
// and cache (dependent random reads over 32 MB, as PGlite's WebAssembly heap is read). On the 2-core machine
// these benchmarks run on, the second part took from about 1× to 3× its quiet time while other
// tenants were busy, and PGlite's statements slowed with it; the first moved far less.
import { createHmac } from 'node:crypto';

export interface Probe {
  cpuMs: number;
  memoryMs: number;
}

// A random cycle through 32 MB (Sattolo's shuffle), built once: each read's address is the last
// read's value, so reads cannot overlap and each waits for the cache or memory.
let cycle: Int32Array | null = null;
function randomCycle(): Int32Array {
  if (cycle) return cycle;
  const n = 8 * 1024 * 1024;
  const next = new Int32Array(n);
  for (let i = 0; i < n; i++) next[i] = i;
  let seed = 12345;
  for (let i = n - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const j = seed % i;
    const t = next[i];
    next[i] = next[j];
    next[j] = t;
  }
  return (cycle = next);
}

function once(): Probe {
  const key = Buffer.alloc(32, 7);
  const body = Buffer.alloc(1024, 1);
  let t = performance.now();
  for (let i = 0; i < 20_000; i++) createHmac('sha256', key).update(body).digest();
  const cpuMs = performance.now() - t;
  const next = randomCycle();
  let at = 0;
  t = performance.now();
  for (let i = 0; i < 2_000_000; i++) at = next[at];
  const memoryMs = performance.now() - t;
  if (at === -1) console.log(at); // keep the reads
  return { cpuMs, memoryMs };
}

/** Median of three probes (about a second in all). */
export function probeMachine(): Probe {
  const runs = [once(), once(), once()];
  const median = (k: keyof Probe) => runs.map((r) => r[k]).sort((a, b) => a - b)[1];
  return { cpuMs: median('cpuMs'), memoryMs: median('memoryMs') };
}

export function describeProbes(before: Probe, after: Probe): string {
  const f = (p: Probe) => `${p.cpuMs.toFixed(0)} ms compute, ${p.memoryMs.toFixed(0)} ms memory`;
  return `Machine probe (bench/lib/probe.ts; the same fixed work, lower is faster, comparable across runs): ${f(before)} at the start; ${f(after)} at the end.`;
}
