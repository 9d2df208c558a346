/**
 * Where a local directory sits in its Git repository, for `berth up DIR`: the repository root,
 * the directory relative to it, and the branch checked out (or the commit of a detached HEAD).
 */
import fs from 'node:fs';
import path from 'node:path';
import git from 'isomorphic-git';
import { BerthError } from '../api/errors.js';

export interface Checkout {
  root: string;
  /** DIR relative to the root ('.' for the root itself). */
  path: string;
  /** The branch checked out, or on a detached HEAD the commit it points at. */
  revision: string;
}

export async function localCheckout(dir: string): Promise<Checkout> {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs)) throw new BerthError('NotFound', `${dir} does not exist`);
  let root: string;
  try {
    root = await git.findRoot({ fs, filepath: abs });
  } catch {
    throw new BerthError(
      'Invalid',
      `${dir} is not inside a Git repository (run \`git init\` and commit the manifests, or give a repository URL)`,
    );
  }
  const branch = await git.currentBranch({ fs, dir: root, fullname: false });
  const revision = branch ?? (await git.resolveRef({ fs, dir: root, ref: 'HEAD' }));
  return { root, path: path.relative(root, abs) || '.', revision };
}
