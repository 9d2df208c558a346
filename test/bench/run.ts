/**
 * `npm run bench -- NAME` runs test/bench/NAME.ts; `npm run bench` runs them all. Each benchmark
 * prints progress to stderr and ends with one JSON line of figures on stdout; run together, a table
 * of every figure follows their JSON lines.
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
const results: [string, Record<string, unknown>][] = [];
for (const name of wanted.length ? wanted : all) {
  const mod = (await import(`./${name}.ts`)) as { run(): Promise<Record<string, unknown>> };
  const figures = await mod.run();
  results.push([name, figures]);
  console.log(JSON.stringify({ bench: name, ...figures }));
}
// Several benchmarks: one table of every figure after their JSON lines.
if (results.length > 1) {
  const rows = results.flatMap(([name, figures]) => Object.entries(figures).map(([k, v]) => [name, k, typeof v === 'object' ? JSON.stringify(v) : String(v)]));
  const width = [0, 1].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log(['', ...rows.map((r) => `${r[0]!.padEnd(width[0]!)}  ${r[1]!.padEnd(width[1]!)}  ${r[2]}`)].join('\n'));
}
