// Types of stryker.config.mjs for scripts/mutation.ts.
export const MODULES: Record<string, { mutate: string[]; testFiles: string[] }>;
declare const config: Record<string, unknown>;
export default config;
