/**
 * `npm run bench -- NAME` runs test/bench/NAME.ts; `npm run bench` runs them all. Each benchmark
 * prints progress to stderr and ends with one JSON line of figures on stdout.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const all = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'run.ts').map((f) => f.slice(0, -3));
const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!all.includes(name)) {
    console.error(`unknown benchmark ${JSON.stringify(name)}; have: ${all.join(', ')}`);
    process.exit(2);
  }
}
for (const name of wanted.length ? wanted : all) {
  const mod = (await import(`./${name}.ts`)) as { run(): Promise<Record<string, unknown>> };
  const figures = await mod.run();
  console.log(JSON.stringify({ bench: name, ...figures }));
}
