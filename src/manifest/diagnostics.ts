/** What the loader reports: every problem names its file, line, column and field path. */
export const DIAGNOSTIC_REASONS = [
  'FileTooLarge',
  'NotUTF8',
  'YAMLSyntax',
  'DuplicateKey',
  'AliasLimit',
  'HelmTemplate',
  'Kustomization',
  'KustomizePatch',
  'NotAnObject',
  'UnsafeKey',
  'MissingField',
  'UnsupportedKind',
  'WrongAPIVersion',
  'NotDeclarable',
  'LegacyFieldMismatch',
  'Deprecated',
  'SchemaViolation',
  'UnknownField',
  'InvalidName',
  'InvalidLabel',
  'SelectorMismatch',
  'InvalidQuantity',
  'InvalidBase64',
  'InvalidValue',
  'UnsupportedVolume',
  'DuplicateObject',
  'SymlinkOutsideTree',
  'PodSecurity',
  'NotEnforced',
  'ClusterScopedNamespace',
  'UnsupportedField',
  'NoProvisioner',
  /** A SOPS-encrypted document where no decryption is configured. */
  'Encrypted',
  /** A SOPS-encrypted file that cannot be decrypted, or whose MAC does not match. */
  'DecryptionFailed',
] as const;
export type DiagnosticReason = (typeof DIAGNOSTIC_REASONS)[number];
export type Severity = 'error' | 'warning';

export interface Diagnostic {
  severity: Severity;
  reason: DiagnosticReason;
  file: string;
  line: number;
  column: number;
  /** The field, as `spec.template.spec.containers[0].image`; '' for the file or document. */
  path: string;
  message: string;
}

/** A path as a list of keys and indexes, rendered the way kubectl names fields. */
export type FieldPath = readonly (string | number)[];

export function renderPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** `file:line:col: error: message`, the compiler convention editors and CI annotate from. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.path ? `${d.path}: ` : '';
  return `${d.file}:${d.line}:${d.column}: ${d.severity}: ${where}${d.message}`;
}

/**
 * The one rule for symlinks, on disk (`berth validate`) and in Git (the server): a link that
 * resolves inside the tree being read is read as its target; one that leaves it is skipped with
 * this warning, so neither prints nor applies a file from elsewhere on the machine.
 */
export function symlinkOutsideTree(file: string, target: string): FileResultLike {
  return {
    file,
    objects: [],
    diagnostics: [
      {
        severity: 'warning',
        reason: 'SymlinkOutsideTree',
        file,
        line: 1,
        column: 1,
        path: '',
        message: `symlink to ${JSON.stringify(target)} leaves the tree being read: skipped`,
      },
    ],
  };
}
/** A SOPS file that could not be decrypted (or whose MAC does not match): refused by the reason alone, never a value. */
export function decryptionFailed(file: string, why: string): FileResultLike {
  return {
    file,
    objects: [],
    diagnostics: [
      {
        severity: 'error',
        reason: 'DecryptionFailed',
        file,
        line: 1,
        column: 1,
        path: '',
        message: `cannot decrypt this SOPS file: ${why}`,
      },
    ],
  };
}

interface FileResultLike {
  file: string;
  objects: never[];
  diagnostics: Diagnostic[];
}

/** A problem found in one object, before it is placed in its file. */
export interface Finding {
  severity: Severity;
  reason: DiagnosticReason;
  path: FieldPath;
  message: string;
}

export const error = (reason: DiagnosticReason, path: FieldPath, message: string): Finding => ({
  severity: 'error',
  reason,
  path,
  message,
});
export const warning = (reason: DiagnosticReason, path: FieldPath, message: string): Finding => ({
  severity: 'warning',
  reason,
  path,
  message,
});
