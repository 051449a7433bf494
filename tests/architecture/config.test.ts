// One place reads the environment: lib/config.ts parses it once, at start-up, into a typed and
// validated object; every other module of the app receives that config or calls config().
// scripts/ and bench/ are tools with their own command-line environment and may read it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT as ROOT, sourceFiles } from '@/tests/helpers/sources';

const SCANNED = ['lib', 'app', 'pages', 'components'];
const READER = 'lib/config.ts';
const SKIPPED = [/^lib\/generated\//, /\.test\.tsx?$/, /(^|\/)node_modules\//];
const READ = /\bprocess\s*(?:\.\s*env\b|\[\s*['"`]env['"`]\s*\])/;

/** The lines of `source` that read the environment. */
export function envReads(source: string): { line: number; text: string }[] {
  return source
    .split('\n')
    .map((text, i) => ({ line: i + 1, text: text.trim() }))
    .filter(({ text }) => READ.test(text));
}


describe('one reader of the environment', () => {
  it('recognises a read (so the scan below can fail)', () => {
    expect(envReads('const url = process.env.DATABASE_URL;')).toHaveLength(1);
    expect(envReads("const { SMTP_URL } = process['env'];")).toHaveLength(1);
    expect(envReads('parseConfig(process.env)')).toHaveLength(1);
    expect(envReads('const url = cfg.DATABASE_URL; // not process.cwd()')).toEqual([]);
  });

  it(`no module of the app but ${READER} reads process.env`, () => {
    const files = SCANNED.flatMap((d) => sourceFiles(d, SKIPPED));
    expect(files).toContain(READER);
    const offenders = files
      .filter((f) => f !== READER)
      .flatMap((f) => envReads(readFileSync(join(ROOT, f), 'utf8')).map((r) => `${f}:${r.line}: ${r.text}`));
    expect(offenders).toEqual([]);
  });
});
