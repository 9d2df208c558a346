/** The namespaces every Berth cluster has: \`default\`, and \`berth-system\` for the server's own objects (tokens, allocations). */
export const SYSTEM_NAMESPACE = 'berth-system';
export const BUILTIN_NAMESPACES: readonly string[] = ['default', SYSTEM_NAMESPACE];
