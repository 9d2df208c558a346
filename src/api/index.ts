/** Berth's public entry for tooling: Kubernetes semantics helpers and the object types. */
export {
  parseSelector,
  selectorFromObject,
  selectorFromLabels,
  type Selector,
  type Requirement,
  type Labels,
} from './selector.js';
export { parseQuantity, quantityFromNanos, isQuantity, type Quantity, type QuantityFormat } from './quantity.js';
export { dns1123Label, dns1123Subdomain, dns1035Label, qualifiedName, labelValue, ianaServiceName } from './names.js';
export { BerthError, isBerthError, type ErrorCode } from './errors.js';
export { KINDS, kindInfo, kindInfoFor, apiVersionOf, type KindInfo } from './kinds.js';
export type * from './types.gen.js';
export {
  parseFieldSelector,
  fieldValue,
  SELECTABLE_FIELDS,
  type FieldSelector,
  type FieldRequirement,
  type SelectableField,
} from './fields.js';
