/** Paths to ../shared (the project's read-only reference material) and the repo root. */
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
export const SHARED = fileURLToPath(new URL('../../shared/', import.meta.url));
export const CORPUS = `${SHARED}corpus`;
export const TESTDATA = `${SHARED}testdata`;
