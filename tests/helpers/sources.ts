// The source files below a folder of the repository, for the architecture tests' scans.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export const REPO_ROOT = join(__dirname, '..', '..');

/** Every .ts/.tsx/.mts/.mjs/.js file below `dir` (relative to the repository), except the skipped paths. */
export function sourceFiles(dir: string, skipped: readonly RegExp[]): string[] {
  let entries;
  try {
    entries = readdirSync(join(REPO_ROOT, dir), { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    const path = `${dir}/${e.name}`;
    if (skipped.some((re) => re.test(path))) continue;
    if (e.isDirectory()) out.push(...sourceFiles(path, skipped));
    else if (/\.(?:ts|tsx|mts|mjs|js)$/.test(e.name)) out.push(path);
  }
  return out;
}
