/**
 * Kubernetes label selectors (k8s.io/apimachinery/pkg/labels): the string syntax with its exact
 * grammar and canonical form, and the object form (matchLabels / matchExpressions).
 */
import { BerthError } from './errors.js';
import { labelValue, qualifiedName } from './names.js';

export const SELECTOR_OPERATORS = ['=', '==', '!=', 'in', 'notin', 'exists', '!', '>', '<'] as const;
export type SelectorOperator = (typeof SELECTOR_OPERATORS)[number];

export interface Requirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  /** Sorted and de-duplicated, as Kubernetes keeps them in a string set. */
  readonly values: readonly string[];
}

export type Labels = Readonly<Record<string, string | undefined>> | undefined | null;

export interface Selector {
  readonly requirements: readonly Requirement[];
  /** True when the selector selects nothing at all (a null selector object). */
  readonly matchesNothing: boolean;
  matches(labels: Labels): boolean;
  toString(): string;
  isEmpty(): boolean;
}

function invalid(input: string, why: string): BerthError {
  return new BerthError('Invalid', `unable to parse requirement ${JSON.stringify(input)}: ${why}`);
}

// ---- lexer ---------------------------------------------------------------------------------

type TokenKind = 'identifier' | 'in' | 'notin' | '!' | '=' | '==' | '!=' | '>' | '<' | '(' | ')' | ',' | 'end';
interface Token {
  kind: TokenKind;
  text: string;
}

const SPECIAL = new Set(['=', '!', '(', ')', ',', '>', '<']);
const TWO_CHAR = new Set(['!=', '==']);
const WHITESPACE = new Set([' ', '\t', '\r', '\n']);

function lex(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const ch = input[i]!;
    if (WHITESPACE.has(ch)) {
      i++;
    } else if (SPECIAL.has(ch)) {
      const two = input.slice(i, i + 2);
      const text = TWO_CHAR.has(two) ? two : ch;
      tokens.push({ kind: text as TokenKind, text });
      i += text.length;
    } else {
      let j = i;
      while (j < input.length && !WHITESPACE.has(input[j]!) && !SPECIAL.has(input[j]!)) j++;
      const text = input.slice(i, j);
      tokens.push({ kind: text === 'in' || text === 'notin' ? text : 'identifier', text });
      i = j;
    }
  }
  tokens.push({ kind: 'end', text: 'end of string' });
  return tokens;
}

// ---- parser (mirrors Kubernetes' recursive descent, including its error cases) --------------

class Parser {
  private pos = 0;
  constructor(
    private readonly input: string,
    private readonly tokens: Token[],
  ) {}

  /** In value context the keywords `in`/`notin` are ordinary identifiers (so `notin=in` works). */
  private peek(valueContext = true): Token {
    return this.asContext(this.tokens[this.pos]!, valueContext);
  }
  private next(valueContext = true): Token {
    return this.asContext(this.tokens[this.pos++]!, valueContext);
  }
  private asContext(t: Token, valueContext: boolean): Token {
    return valueContext && (t.kind === 'in' || t.kind === 'notin') ? { kind: 'identifier', text: t.text } : t;
  }
  private fail(why: string): never {
    throw invalid(this.input, why);
  }

  parse(): Requirement[] {
    const out: Requirement[] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind === 'end') return out;
      if (t.kind !== 'identifier' && t.kind !== '!')
        this.fail(`found '${t.text}', expected: !, identifier, or 'end of string'`);
      out.push(this.requirement());
      const sep = this.next();
      if (sep.kind === 'end') return out;
      if (sep.kind !== ',') this.fail(`found '${sep.text}', expected: ',' or 'end of string'`);
      const after = this.peek();
      if (after.kind !== 'identifier' && after.kind !== '!')
        this.fail(`found '${after.text}', expected: identifier after ','`);
    }
  }

  private requirement(): Requirement {
    let t = this.next();
    let negated = false;
    if (t.kind === '!') {
      negated = true;
      t = this.next();
    }
    if (t.kind !== 'identifier') this.fail(`found '${t.text}', expected: identifier`);
    const key = t.text;
    const following = this.peek();
    if (following.kind === 'end' || following.kind === ',') return makeRequirement(key, negated ? '!' : 'exists', []);
    if (negated) this.fail(`found '${following.text}', expected: ',' or 'end of string'`);
    const op = this.next(false);
    switch (op.kind) {
      case 'in':
      case 'notin':
        return makeRequirement(key, op.kind, this.valueSet());
      case '=':
      case '==':
      case '!=':
      case '>':
      case '<':
        return makeRequirement(key, op.kind, this.exactValue());
      default:
        return this.fail(`found '${op.text}', expected: in, notin, =, ==, !=, gt, lt`);
    }
  }

  private valueSet(): string[] {
    const open = this.next();
    if (open.kind !== '(') this.fail(`found '${open.text}', expected: '('`);
    const first = this.peek();
    if (first.kind === ')') {
      // As Kubernetes' parseValues: "()" is the set holding the empty value ("x in ()" is "x=").
      this.next();
      return [''];
    }
    if (first.kind !== 'identifier' && first.kind !== ',')
      this.fail(`found '${first.text}', expected: ',', ')' or identifier`);
    const values = new Set<string>();
    for (;;) {
      const t = this.next();
      if (t.kind === 'identifier') {
        values.add(t.text);
        const after = this.next();
        if (after.kind === ')') return [...values];
        if (after.kind !== ',') this.fail(`found '${after.text}', expected: ',' or ')'`);
        if (this.peek().kind === ')') {
          this.next();
          values.add('');
          return [...values];
        }
      } else if (t.kind === ',') {
        // Kubernetes reads "(,a)", "(a,,b)" and "(a,)" as holding the empty value.
        values.add('');
        if (this.peek().kind === ')') {
          this.next();
          return [...values];
        }
      } else {
        this.fail(`found '${t.text}', expected: ',', or identifier`);
      }
    }
  }

  private exactValue(): string[] {
    const t = this.peek();
    if (t.kind === 'end' || t.kind === ',') return [''];
    this.next();
    if (t.kind !== 'identifier') this.fail(`found '${t.text}', expected: identifier`);
    return [t.text];
  }
}

function makeRequirement(key: string, operator: SelectorOperator, rawValues: string[]): Requirement {
  const keyErrors = qualifiedName(key);
  if (keyErrors.length)
    throw new BerthError('Invalid', `invalid label key ${JSON.stringify(key)}: ${keyErrors.join('; ')}`);
  const values = [...new Set(rawValues)].sort();
  switch (operator) {
    case 'in':
    case 'notin':
      if (values.length === 0)
        throw new BerthError('Invalid', "for 'in', 'notin' operators, values set can't be empty");
      break;
    case '=':
    case '==':
    case '!=':
      if (values.length !== 1) throw new BerthError('Invalid', 'exact-match compatibility requires one single value');
      break;
    case 'exists':
    case '!':
      if (values.length !== 0)
        throw new BerthError('Invalid', 'values set must be empty for exists and does not exist');
      break;
    case '>':
    case '<':
      if (values.length !== 1 || !/^[+-]?[0-9]+$/.test(values[0]!)) {
        throw new BerthError('Invalid', "for 'Gt', 'Lt' operators, the value must be an integer");
      }
      break;
  }
  for (const v of values) {
    const errs = labelValue(v);
    if (errs.length) throw new BerthError('Invalid', `invalid label value: ${JSON.stringify(v)}: ${errs.join('; ')}`);
  }
  return { key, operator, values };
}

function requirementMatches(r: Requirement, labels: Labels): boolean {
  const value = labels != null && Object.prototype.hasOwnProperty.call(labels, r.key) ? labels[r.key] : undefined;
  const has = value !== undefined;
  switch (r.operator) {
    case '=':
    case '==':
    case 'in':
      return has && r.values.includes(value!);
    case '!=':
    case 'notin':
      return !has || !r.values.includes(value!);
    case 'exists':
      return has;
    case '!':
      return !has;
    case '>':
    case '<': {
      if (!has || !/^[+-]?[0-9]+$/.test(value!)) return false;
      const [have, want] = [BigInt(value!), BigInt(r.values[0]!)];
      return r.operator === '>' ? have > want : have < want;
    }
  }
}

function requirementString(r: Requirement): string {
  switch (r.operator) {
    case 'exists':
      return r.key;
    case '!':
      return `!${r.key}`;
    case 'in':
    case 'notin':
      return `${r.key} ${r.operator} (${r.values.join(',')})`;
    default:
      return `${r.key}${r.operator}${r.values[0]}`;
  }
}

function makeSelector(requirements: Requirement[], matchesNothing = false): Selector {
  const sorted = [...requirements].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return {
    requirements: sorted,
    matchesNothing,
    matches: (labels) => !matchesNothing && sorted.every((r) => requirementMatches(r, labels)),
    toString: () => sorted.map(requirementString).join(','),
    isEmpty: () => !matchesNothing && sorted.length === 0,
  };
}

/** Parses the string syntax (`app=web,tier in (a,b),!canary,x>1`). Throws BerthError Invalid. */
export function parseSelector(input: string): Selector {
  return makeSelector(new Parser(input, lex(input)).parse());
}

export interface LabelSelectorRequirementObject {
  key: string;
  operator: string;
  values?: string[];
}
export interface LabelSelectorObject {
  matchLabels?: Record<string, string | undefined>;
  matchExpressions?: LabelSelectorRequirementObject[];
}

const EXPRESSION_OPERATORS: Record<string, SelectorOperator> = {
  In: 'in',
  NotIn: 'notin',
  Exists: 'exists',
  DoesNotExist: '!',
};

/**
 * The object form, as metav1.LabelSelectorAsSelector: null selects nothing, {} selects
 * everything.
 */
export function selectorFromObject(obj: LabelSelectorObject | null | undefined): Selector {
  if (obj == null) return makeSelector([], true);
  return remembered(obj, () => parseSelectorObject(obj));
}

/**
 * Selectors by the object they were made from: controllers match the same (unchanging) selector
 * of a cached object against thousands of pods, and validating its keys and values each time cost
 * more than the matching.
 */
const selectors = new WeakMap<object, Selector>();
function remembered(from: object, make: () => Selector): Selector {
  let s = selectors.get(from);
  if (!s) selectors.set(from, (s = make()));
  return s;
}

function parseSelectorObject(obj: LabelSelectorObject): Selector {
  const reqs: Requirement[] = [];
  for (const [k, v] of Object.entries(obj.matchLabels ?? {}))
    if (v !== undefined) reqs.push(makeRequirement(k, '=', [v]));
  for (const expr of obj.matchExpressions ?? []) {
    const op = EXPRESSION_OPERATORS[expr.operator];
    if (!op)
      throw new BerthError(
        'Invalid',
        `${JSON.stringify(expr.operator)} is not a valid label selector operator (In, NotIn, Exists, DoesNotExist)`,
      );
    reqs.push(makeRequirement(expr.key, op, expr.values ?? []));
  }
  return makeSelector(reqs);
}

/** A selector that requires every given label (a ReplicaSet's matchLabels, a Service's selector). */
export function selectorFromLabels(labels: Record<string, string>): Selector {
  return remembered(labels, () => makeSelector(Object.entries(labels).map(([k, v]) => makeRequirement(k, '=', [v]))));
}
