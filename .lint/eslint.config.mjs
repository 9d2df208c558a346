// Type-aware lint of src/ and test/: the promise rules DESIGN.md asks for (no floating promises,
// no promise where a callback's result is ignored), checked against the project's tsconfig.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import tseslint from 'typescript-eslint';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const promiseRules = {
  plugins: { '@typescript-eslint': tseslint.plugin },
  linterOptions: { reportUnusedDisableDirectives: 'error' },
  rules: {
    '@typescript-eslint/no-floating-promises': 'error',
    '@typescript-eslint/no-misused-promises': 'error',
  },
};

export default tseslint.config(
  { ignores: ['**/.build/**', '**/node_modules/**', 'src/api/types.gen.ts'] },
  {
    files: ['src/**/*.ts', 'test/**/*.ts'],
    ignores: ['src/ui/web/**'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { project: path.join(root, 'tsconfig.json'), tsconfigRootDir: root },
    },
    ...promiseRules,
  },
  // The dashboard's browser code has a project of its own (the DOM's types, no Node).
  {
    files: ['src/ui/web/**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { project: path.join(root, 'src/ui/web/tsconfig.json'), tsconfigRootDir: root },
    },
    ...promiseRules,
  },
);
