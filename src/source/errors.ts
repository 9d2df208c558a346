/** A source that could not be read, with the condition the Application reports for it. */
import { BerthError } from '../api/errors.js';
import type { SourceCondition } from './types.js';

export class SourceError extends BerthError {
  constructor(
    readonly condition: SourceCondition,
    cause?: unknown,
  ) {
    super('Unavailable', condition.message, { cause });
  }
}
