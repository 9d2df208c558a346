/**
 * The sandbox image that holds each pod's network namespace (it only sleeps). No registry need be
 * reachable: when the node lacks it, the agent makes it with `docker import` from the node's
 * static busybox (Debian's busybox-static), as `--sandbox-image` names it.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const DEFAULT_SANDBOX_IMAGE = 'berth/sandbox:busybox';

/** Makes `image` from a static busybox unless Docker already has it; returns the image. */
export function ensureBusyboxImage(image: string, busybox = '/bin/busybox'): string {
  try {
    execFileSync('docker', ['image', 'inspect', image], { stdio: 'ignore' });
    return image;
  } catch {
    // not there yet
  }
  if (!existsSync(busybox))
    throw new Error(
      `the sandbox image ${image} is missing and there is no ${busybox} to make it from (install busybox-static, or load the image)`,
    );
  const root = mkdtempSync(path.join(tmpdir(), 'berth-image-'));
  try {
    mkdirSync(path.join(root, 'bin'));
    mkdirSync(path.join(root, 'tmp'), { mode: 0o1777 });
    copyFileSync(busybox, path.join(root, 'bin', 'busybox'));
    for (const a of execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n'))
      if (a && a !== 'busybox') symlinkSync('busybox', path.join(root, 'bin', a));
    execFileSync('sh', ['-c', `tar -C "$1" -c . | docker import --change 'ENV PATH=/bin' - "$2"`, 'sh', root, image], {
      stdio: 'pipe',
    });
    return image;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
