/**
 * Composition root: the one place that picks concrete implementations and wires them together.
 * The `berth` executable (src/cli/berth.js) starts here.
 */
import { runCli } from './cli/main.js';

export async function main(argv: string[]): Promise<void> {
  process.exitCode = await runCli(argv);
}
