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
    // A build carries no deployment settings: Next.js inlines process.env.NEXT_PUBLIC_* at build
    // time, so app code reads settings on the server (lib/config.ts) and passes them as props.
    files: ['app/**/*.{ts,tsx}', 'components/**/*.{ts,tsx}', 'lib/**/*.{ts,tsx}', 'proxy.ts', 'instrumentation.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.object.name='process'][object.property.name='env'][property.name=/^NEXT_PUBLIC_/]",
          message: 'process.env.NEXT_PUBLIC_* is baked into the build; read it on the server through lib/config.ts at request time and pass it down as a prop.',
        },
      ],
    },
  },
  {
    ignores: ['node_modules/**', '.next/**', '.next-*/**', '.data/**', 'lib/generated/**', 'test-results/**', 'playwright-report/**', 'bench/results/**', 'bench/floor/.next/**', 'bench/floor/next-env.d.ts', 'next-env.d.ts', '.scratch/**'],
  },
];

export default config;
