// The bare floor of bench/server-checkout.bench.ts: the least a Next.js 16 app does for the same
// checkout, built with the repo's own `next`, so the benchmark can say what Next.js itself costs.
import { resolve } from 'node:path';
import type { NextConfig } from 'next';

const repoRoot = resolve(import.meta.dirname, '../..');

const nextConfig: NextConfig = {
  // Packages resolve from the repo's node_modules; pinning both roots keeps Next from guessing
  // the workspace from lockfiles (it would pick the repo and warn).
  turbopack: { root: repoRoot },
  outputFileTracingRoot: repoRoot,
  distDir: process.env.FLOOR_DIST_DIR || '.next',
  poweredByHeader: false,
  typescript: { ignoreBuildErrors: true },
  serverExternalPackages: ['stripe'],
};

export default nextConfig;
