/**
 * YAML → plain values with source positions, read the way kubectl reads manifests.
 *
 * kubectl decodes YAML with go-yaml v2 (YAML 1.1): `0644` is the octal 420, `yes`/`no`/`on`/`off`
 * are booleans, `<<` merges. Unlike the `yaml` package's own 1.1 schema, go-yaml keeps
 * timestamps as strings and has no sexagesimal numbers (`12:30` stays a string), so those tags
 * are dropped here. Alias expansion is capped to stop billion-laughs documents.
 */
import {
  parseAllDocuments,
  isMap,
  isSeq,
  isScalar,
  isAlias,
  isPair,
  LineCounter,
  type Document,
  type Node,
  type ParsedNode,
  type Tags,
} from 'yaml';
import type { FieldPath } from './diagnostics.js';

const KUBECTL_TAGS = (tags: Tags): Tags =>
  tags.filter((t) => {
    const tag = typeof t === 'string' ? t : t.tag;
    if (tag === 'tag:yaml.org,2002:timestamp') return false;
    if (typeof t === 'object' && 'format' in t && t.format === 'TIME') return false;
    return ![
      'tag:yaml.org,2002:binary',
      'tag:yaml.org,2002:omap',
      'tag:yaml.org,2002:pairs',
      'tag:yaml.org,2002:set',
    ].includes(tag);
  });

/** Total alias expansions allowed in one document before it is refused as a bomb. */
export const MAX_ALIAS_COUNT = 100;

export interface SourcePosition {
  line: number;
  column: number;
}

export interface YamlProblem {
  kind: 'syntax' | 'duplicate-key' | 'alias-limit';
  message: string;
  position: SourcePosition;
}

export interface ParsedDocument {
  index: number;
  /** Plain JS value; undefined when the document is empty or could not be read. */
  value: unknown;
  empty: boolean;
  problems: YamlProblem[];
  position: SourcePosition;
  /** Resolves a field path to its line and column (the key's, for mapping entries). */
  locate(path: FieldPath): SourcePosition;
  /** The raw source text of the scalar at path, when it is one (for YAML 1.1 hints). */
  scalarSource(path: FieldPath): string | undefined;
  /** True when the document holds a `{{ … }}` Helm/Go template expression outside strings. */
  hasTemplateExpression(): boolean;
}

export function parseYamlDocuments(text: string, options: { json?: boolean } = {}): ParsedDocument[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, {
    version: options.json ? '1.2' : '1.1',
    merge: !options.json,
    customTags: options.json ? undefined : KUBECTL_TAGS,
    lineCounter,
    uniqueKeys: true,
    prettyErrors: false,
    keepSourceTokens: false,
    // Problems are reported as diagnostics; nothing may reach the process's warning channel.
    logLevel: 'error',
  });
  const list = Array.isArray(docs) ? docs : [docs];
  const pos = (offset: number): SourcePosition => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  return list.map((doc, index) => wrapDocument(doc as Document.Parsed, index, pos, text));
}

/** The first mapping key that is itself a collection (`{a: 1}: x`), which no JSON object can hold. */
function firstCollectionKey(root: ParsedNode | null): ParsedNode | undefined {
  const stack: unknown[] = [root];
  while (stack.length) {
    const n = stack.pop();
    if (isMap(n)) {
      for (const p of n.items) {
        if (isMap(p.key) || isSeq(p.key)) return p.key as ParsedNode;
        stack.push(p.value);
      }
    } else if (isSeq(n)) {
      stack.push(...n.items);
    }
  }
  return undefined;
}

function wrapDocument(
  doc: Document.Parsed,
  index: number,
  pos: (o: number) => SourcePosition,
  text: string,
): ParsedDocument {
  const problems: YamlProblem[] = doc.errors.map((e) => ({
    kind: e.code === 'DUPLICATE_KEY' ? 'duplicate-key' : 'syntax',
    message: e.message.split('\n')[0]!,
    position: pos(e.pos[0]),
  }));
  const contents = doc.contents as ParsedNode | null;
  const empty =
    contents === null || (isScalar(contents) && contents.value === null && contents.range[0] === contents.range[1]);
  if (problems.every((p) => p.kind === 'duplicate-key') && !empty) {
    const key = firstCollectionKey(contents);
    if (key) {
      problems.push({
        kind: 'syntax',
        message: 'a mapping key must be a plain value, not a mapping or list (JSON and Kubernetes keys are strings)',
        position: pos(key.range[0]),
      });
    }
  }
  let value: unknown;
  // A duplicate key does not stop the document (the later value wins, as kubectl reads it); the loader says so.
  if (problems.every((p) => p.kind === 'duplicate-key') && !empty) {
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      // The yaml package throws a ReferenceError when aliases expand past maxAliasCount.
      problems.push({
        kind: 'alias-limit',
        message: `${(e as Error).message} (more than ${MAX_ALIAS_COUNT} alias expansions; refusing a possible billion-laughs document)`,
        position: pos(contents?.range[0] ?? 0),
      });
    }
  }
  const start = contents?.range[0] ?? doc.range[0];

  const nodeAt = (path: FieldPath): { node: Node | null; keyOffset?: number; depth: number } => {
    let node: Node | null = contents;
    let keyOffset: number | undefined;
    let depth = 0;
    for (const seg of path) {
      if (node && isAlias(node)) node = (node.resolve(doc) as Node | undefined) ?? null;
      if (!node) break;
      let next: Node | null = null;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (pair) {
          keyOffset = (pair.key as ParsedNode).range[0];
          next = (pair.value as Node | null) ?? null;
          if (!next) {
            depth++;
            node = null;
            break;
          }
        }
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as Node | undefined;
        if (item) {
          keyOffset = (item as ParsedNode).range?.[0];
          next = item;
        }
      }
      if (!next) break;
      node = next;
      depth++;
    }
    return { node, keyOffset, depth };
  };

  return {
    index,
    value,
    empty,
    problems,
    position: pos(start),
    locate(path) {
      const { node, keyOffset } = nodeAt(path);
      if (keyOffset !== undefined) return pos(keyOffset);
      const range = (node as ParsedNode | null)?.range;
      return pos(range ? range[0] : start);
    },
    scalarSource(path) {
      const { node, depth } = nodeAt(path);
      if (depth !== path.length || !node || !isScalar(node)) return undefined;
      const range = (node as ParsedNode).range;
      return text.slice(range[0], range[1]);
    },
    hasTemplateExpression() {
      // `name: {{ .Values.x }}` parses as a flow mapping whose only key is another flow mapping.
      let found = false;
      const visitNode = (n: unknown): void => {
        if (found || !n) return;
        if (isMap(n)) {
          const r = (n as ParsedNode).range;
          if (n.flow && r && text.startsWith('{{', r[0])) {
            found = true;
            return;
          }
          for (const p of n.items) {
            visitNode(p.key);
            visitNode(p.value);
          }
        } else if (isSeq(n)) {
          for (const item of n.items) visitNode(item);
        }
      };
      visitNode(contents);
      return found;
    },
  };
}
