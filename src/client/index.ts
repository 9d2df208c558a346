export { BerthClient, resourcePath, serversOf, type KubeObject, type ListOptions, type WatchEvent } from './client.js';
export {
  resolveConnection,
  readKubeconfig,
  defaultKubeconfigPath,
  type Connection,
  type ConnectionFlags,
} from './config.js';
