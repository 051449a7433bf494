// Prisma's schema engine as WebAssembly: migrations without the native binary the CLI
// would download. The package is a wasm-bindgen "bundler" build, so we instantiate it here.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { bindMigrationAwareSqlAdapterFactory, type SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import * as bg from '@prisma/schema-engine-wasm/schema_engine_bg';
import { config } from '@/lib/config';

type Engine = bg.SchemaEngine;
let ready: Promise<void> | undefined;

function loadWasm(): Promise<void> {
  ready ??= (async () => {
    const require = createRequire(import.meta.url);
    const dir = dirname(require.resolve('@prisma/schema-engine-wasm'));
    const wasmModule = await WebAssembly.compile(readFileSync(join(dir, 'schema_engine_bg.wasm')));
    const instance = await WebAssembly.instantiate(wasmModule, { './schema_engine_bg.js': bg as unknown as WebAssembly.ModuleImports });
    (bg as unknown as { __wbg_set_wasm(e: WebAssembly.Exports): void }).__wbg_set_wasm(instance.exports);
    (instance.exports as { __wbindgen_start?: () => void }).__wbindgen_start?.();
  })();
  return ready;
}

export async function openSchemaEngine(factory: SqlMigrationAwareDriverAdapterFactory, schema: string): Promise<Engine> {
  await loadWasm();
  const log = config().PRISMA_ENGINE_LOG ? (line: string) => console.error('[schema-engine]', line) : () => {};
  return bg.SchemaEngine.new({ datamodels: [['schema.prisma', schema]] }, log, bindMigrationAwareSqlAdapterFactory(factory));
}

export const noFilters = { externalTables: [] as string[], externalEnums: [] as string[] };
