import type { NextConfig } from 'next';

const nextConfig: NextConfig = {
  // PGlite loads its WebAssembly and data files from its own package folder.
  serverExternalPackages: ['@electric-sql/pglite', 'pglite-prisma-adapter', 'pg-boss', 'pg', '@prisma/adapter-pg', '@prisma/schema-engine-wasm', 'pino', 'nodemailer'],
  // A separate build folder lets several checkouts of the test suite run side by side.
  distDir: process.env.BRISK_DIST_DIR || '.next',
  poweredByHeader: false,
  // Type errors fail `npm test` (tsc runs first there); the build itself stays about building.
  typescript: { ignoreBuildErrors: true },
  reactStrictMode: true,
  typedRoutes: false,
  // The proxy (pages and server actions only) buffers bodies it hands on: cap it like the actions.
  experimental: { serverActions: { bodySizeLimit: '100kb' }, proxyClientMaxBodySize: '128kb' },
};

export default nextConfig;
