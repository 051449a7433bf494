// Process CPU time from /proc (Linux): a server's whole process tree (the launcher, Next.js,
// PGlite's WebAssembly and the inline job worker all run in processes under it), and PostgreSQL
// backends by pid. CPU time holds up on a shared host where wall time does not.
import { readdirSync, readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';

let ticksPerSecond = 100;
try {
  ticksPerSecond = Number(execSync('getconf CLK_TCK', { encoding: 'utf8' }).trim()) || 100;
} catch {
  /* the usual Linux value */
}

interface Stat {
  ppid: number;
  /** utime + stime, in ms. */
  cpuMs: number;
}

function readStat(pid: number): Stat | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields after the last ')'.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return { ppid: Number(f[1]), cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / ticksPerSecond };
  } catch {
    return null;
  }
}

/** `root` and every process under it, now. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(Number(name));
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** CPU ms used so far by each of these processes (the ones still alive). */
export function cpuOf(pids: number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const pid of pids) {
    const st = readStat(pid);
    if (st) m.set(pid, st.cpuMs);
  }
  return m;
}

/** CPU ms spent between two readings (a process new in `after` counts from zero). */
export function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let ms = 0;
  for (const [pid, t] of after) ms += t - (before.get(pid) ?? 0);
  return ms;
}

/** A reader of one server tree's CPU time (re-walks the tree each time: workers come and go). */
export function treeCpu(root: number): () => Map<number, number> {
  return () => cpuOf(processTree(root));
}
