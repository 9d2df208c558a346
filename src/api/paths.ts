/** Berth's own HTTP paths beside the Kubernetes API, shared by the server and its clients. */

/** GET: a consistent copy of the whole store, taken now (`berth backup create FILE`). */
export const BACKUP_PATH = '/berth/v1/backup';
