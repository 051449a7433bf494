// `prisma generate` offline: the CLI insists on a schema-engine binary it never uses for
// generate, so point it at any executable instead of letting it try to download one.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

export function generatedIsFresh(): boolean {
  const out = join(root, 'lib/generated/prisma/client.ts');
  return existsSync(out) && statSync(out).mtimeMs >= statSync(join(root, 'prisma/schema.prisma')).mtimeMs;
}

export function generatePrismaClient(): void {
  const r = spawnSync(process.execPath, [join(root, 'node_modules/prisma/build/index.js'), 'generate'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1', PRISMA_SCHEMA_ENGINE_BINARY: process.execPath },
  });
  if (r.status !== 0) {
    process.stdout.write(r.stdout);
    throw new Error('prisma generate failed');
  }
}

/**
 * Generates the client unless it is fresh, one process at a time: instances (or `npm start` and
 * `npm run worker`) started together on a fresh clone must not write lib/generated at once.
 */
export async function ensurePrismaClient(log: (line: string) => void = () => undefined): Promise<void> {
  if (generatedIsFresh()) return;
  const { withBuildLock } = await import('./build');
  withBuildLock(
    'lib/generated',
    () => {
      if (generatedIsFresh()) return;
      log('Generating the Prisma client…');
      generatePrismaClient();
    },
    { log },
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--if-stale')) {
    await ensurePrismaClient((line) => console.log(line));
    process.exit(0);
  }
  generatePrismaClient();
  console.log('Prisma client generated in lib/generated/prisma');
}
