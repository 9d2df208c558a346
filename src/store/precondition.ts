/** The typed errors every driver raises when a write's precondition fails, worded once. */
import { BerthError } from '../api/errors.js';
import type { BackendOp, KeyValue } from './backend.js';
import { describeKey } from './keys.js';

/** Checks one op against the key's current state; returns the error to raise, if any. */
export function preconditionError(op: BackendOp, current: KeyValue | undefined): BerthError | undefined {
  if (op.type === 'create') {
    return current ? new BerthError('AlreadyExists', `${describeKey(op.key)} already exists`) : undefined;
  }
  if (!current) return new BerthError('NotFound', `${describeKey(op.key)} not found`);
  if (op.expectedRevision !== undefined && op.expectedRevision !== current.revision) {
    return new BerthError(
      'Conflict',
      `${describeKey(op.key)} was modified: expected resourceVersion ${op.expectedRevision}, it is ${current.revision}; read it again and retry`,
    );
  }
  return undefined;
}
