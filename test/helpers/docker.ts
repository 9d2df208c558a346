/** The Docker test image: no registry is reachable, so it is made from busybox-static with `docker import`. */
import { ensureBusyboxImage } from '../../src/agent/docker/sandbox.js';

export const TEST_IMAGE = 'berth-test/busybox:1';

export function ensureTestImage(): string {
  return ensureBusyboxImage(TEST_IMAGE);
}
