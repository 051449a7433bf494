// The npm registry reachable here does not serve every platform build of some packages
// (e.g. the darwin/win32 builds of @next/swc and @tailwindcss/oxide). `npm install` skips
// them, but then `npm ci` refuses the lockfile ("Missing: … from lock file"). This adds an
// entry for each missing optional platform package, marked with its os/cpu, so `npm ci`
// accepts the lockfile and skips them on Linux as npm would anyway. Run after `npm install`:
//   node scripts/lockfile-platform-stubs.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages;

function platformOf(name) {
  const os = ['darwin', 'win32', 'android', 'freebsd', 'linux', 'openbsd', 'sunos', 'aix', 'netbsd'].find((o) => name.includes(`-${o}-`) || name.endsWith(`-${o}`));
  const cpu = ['arm64', 'x64', 'ia32', 'arm', 'wasm32', 'riscv64', 's390x', 'ppc64', 'loong64'].find((c) => name.includes(`-${c}`));
  return { os, cpu };
}

let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    const nested = `${path}/node_modules/${dep}`;
    if (packages[key] || packages[nested]) continue;
    const { os, cpu } = platformOf(dep);
    if (!os && !cpu) continue; // not a platform build: leave it to npm
    packages[key] = {
      version,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      ...(os ? { os: [os] } : {}),
      ...(cpu ? { cpu: [cpu] } : {}),
    };
    added++;
  }
}
const sorted = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
lock.packages = sorted;
writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`lockfile: added ${added} platform stub entr${added === 1 ? 'y' : 'ies'}`);
