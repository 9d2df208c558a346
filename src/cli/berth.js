#!/usr/bin/env node
// The `berth` executable: runs the compiled build (made by `npm install` / `npm run build`).
import { existsSync } from 'node:fs';

const entry = new URL('../../.build/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('berth: the build is missing; run `npm install` (or `npm run build`) in the berth checkout\n');
  process.exit(2);
}
// A reader that stops early (`berth … | head`) is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
const { main } = await import(entry.href);
await main(process.argv.slice(2));
