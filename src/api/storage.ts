/** Storage names Kubernetes and Berth agree on: the default class's annotation, the local-path provisioner, the chosen node. */
export const LOCAL_PATH_PROVISIONER = 'berth.dev/local-path';
export const DEFAULT_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class';
/** Set on a claim (by the scheduler, or a StatefulSet) once its first pod's node is chosen: local-path provisions there. */
export const SELECTED_NODE = 'volume.kubernetes.io/selected-node';
export const PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by';
