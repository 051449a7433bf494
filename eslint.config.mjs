import coreWebVitals from 'eslint-config-next/core-web-vitals';
import typescript from 'eslint-config-next/typescript';

const config = [
  ...coreWebVitals,
  ...typescript,
  {
    // `_`-prefixed names are deliberately unused (destructuring a field away).
    rules: { '@typescript-eslint/no-unused-vars': ['warn', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }] },
  },
  {
    ignores: ['node_modules/**', '.next/**', '.next-*/**', '.data/**', 'lib/generated/**', 'test-results/**', 'playwright-report/**', 'bench/results/**', 'next-env.d.ts', '.scratch/**'],
  },
];

export default config;
