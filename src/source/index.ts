export { GitSource, type GitSourceOptions, type SourceResult } from './source.js';
export { GitRepository, SourceError, isRemote } from './git.js';
export type * from './types.js';
export { localCheckout, type Checkout } from './checkout.js';
