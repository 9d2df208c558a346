/* eslint-disable */
/**
 * GENERATED from schemas/ by `npm run gen:types` (json-schema-to-typescript). Do not edit:
 * change the schema and regenerate; a test fails when this file is stale.
 */

/**
 * RFC 3339 timestamp.
 */
export type Time = string;
/**
 * A resource quantity: "500m", "1Gi", "2" (a bare number is accepted too).
 */
export type Quantity = string | number;
export type IntOrString = number | string;

export interface BerthObjects {
  Namespace?: Namespace;
  ConfigMap?: ConfigMap;
  Secret?: Secret;
  Pod?: Pod;
  Service?: Service;
  Endpoints?: Endpoints;
  PersistentVolumeClaim?: PersistentVolumeClaim;
  PersistentVolume?: PersistentVolume;
  StorageClass?: StorageClass;
  ResourceQuota?: ResourceQuota;
  LimitRange?: LimitRange;
  ServiceAccount?: ServiceAccount;
  ReplicationController?: ReplicationController;
  Node?: Node;
  Event?: Event;
  Deployment?: Deployment;
  ReplicaSet?: ReplicaSet;
  DaemonSet?: DaemonSet;
  StatefulSet?: StatefulSet;
  ControllerRevision?: ControllerRevision;
  Job?: Job;
  CronJob?: CronJob;
  Ingress?: Ingress;
  NetworkPolicy?: NetworkPolicy;
  EndpointSlice?: EndpointSlice;
  Lease?: Lease;
  HorizontalPodAutoscaler?: HorizontalPodAutoscaler;
  PodDisruptionBudget?: PodDisruptionBudget;
  Role?: Role;
  RoleBinding?: RoleBinding;
  ClusterRole?: ClusterRole;
  ClusterRoleBinding?: ClusterRoleBinding;
  AppProject?: AppProject;
  Application?: Application;
}
export interface Namespace {
  apiVersion: "v1";
  kind: "Namespace";
  metadata: ObjectMeta;
  spec?: NamespaceSpec;
  status?: NamespaceStatus;
}
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: Time | null;
  deletionTimestamp?: Time;
  deletionGracePeriodSeconds?: number;
  labels?: StringMap;
  annotations?: StringMap;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: ManagedFieldsEntry[];
  selfLink?: string;
}
export interface StringMap {
  [k: string]: string | undefined;
}
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}
export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  apiVersion?: string;
  time?: Time;
  fieldsType?: string;
  fieldsV1?: {};
  subresource?: string;
}
export interface NamespaceSpec {
  finalizers?: string[];
}
export interface NamespaceStatus {
  phase?: "Active" | "Terminating";
  conditions?: Condition[];
}
/**
 * A status condition (Ready, Available, Progressing, …) with Kubernetes' fields.
 */
export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  observedGeneration?: number;
  lastUpdateTime?: Time;
  lastTransitionTime?: Time;
  lastProbeTime?: Time | null;
  lastHeartbeatTime?: Time;
  reason?: string;
  message?: string;
}
export interface ConfigMap {
  apiVersion: "v1";
  kind: "ConfigMap";
  metadata: ObjectMeta;
  data?: StringMap;
  binaryData?: StringMap;
  immutable?: boolean;
}
export interface Secret {
  apiVersion: "v1";
  kind: "Secret";
  metadata: ObjectMeta;
  data?: StringMap;
  stringData?: StringMap;
  type?: string;
  immutable?: boolean;
}
export interface Pod {
  apiVersion: "v1";
  kind: "Pod";
  metadata: ObjectMeta;
  spec: PodSpec;
  status?: PodStatus;
}
export interface PodSpec {
  /**
   * @minItems 1
   */
  containers: [Container, ...Container[]];
  initContainers?: Container[];
  volumes?: Volume[];
  restartPolicy?: "Always" | "OnFailure" | "Never";
  terminationGracePeriodSeconds?: number;
  activeDeadlineSeconds?: number;
  dnsPolicy?: "ClusterFirst" | "ClusterFirstWithHostNet" | "Default" | "None";
  dnsConfig?: PodDNSConfig;
  nodeSelector?: StringMap;
  serviceAccountName?: string;
  /**
   * Deprecated alias of serviceAccountName.
   */
  serviceAccount?: string;
  automountServiceAccountToken?: boolean;
  nodeName?: string;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  hostUsers?: boolean;
  shareProcessNamespace?: boolean;
  securityContext?: PodSecurityContext;
  imagePullSecrets?: LocalObjectReference[];
  hostname?: string;
  subdomain?: string;
  setHostnameAsFQDN?: boolean;
  affinity?: Affinity;
  schedulerName?: string;
  tolerations?: Toleration[];
  hostAliases?: HostAlias[];
  priorityClassName?: string;
  priority?: number;
  preemptionPolicy?: "Never" | "PreemptLowerPriority";
  readinessGates?: PodReadinessGate[];
  runtimeClassName?: string;
  enableServiceLinks?: boolean;
  overhead?: QuantityMap;
  topologySpreadConstraints?: TopologySpreadConstraint[];
  os?: PodOS;
  schedulingGates?: PodSchedulingGate[];
}
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  ports?: ContainerPort[];
  envFrom?: EnvFromSource[];
  env?: EnvVar[];
  resources?: ResourceRequirements;
  resizePolicy?: ContainerResizePolicy[];
  /**
   * Only for init containers: makes it a sidecar.
   */
  restartPolicy?: "Always";
  volumeMounts?: VolumeMount[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: Lifecycle;
  terminationMessagePath?: string;
  terminationMessagePolicy?: "File" | "FallbackToLogsOnError";
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  securityContext?: SecurityContext;
  stdin?: boolean;
  stdinOnce?: boolean;
  tty?: boolean;
}
export interface ContainerPort {
  name?: string;
  containerPort: number;
  hostPort?: number;
  hostIP?: string;
  protocol?: "TCP" | "UDP" | "SCTP";
}
export interface EnvFromSource {
  prefix?: string;
  configMapRef?: OptionalLocalReference;
  secretRef?: OptionalLocalReference;
}
export interface OptionalLocalReference {
  name?: string;
  optional?: boolean;
}
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: EnvVarSource;
}
export interface EnvVarSource {
  fieldRef?: ObjectFieldSelector;
  resourceFieldRef?: ResourceFieldSelector;
  configMapKeyRef?: KeySelector;
  secretKeyRef?: KeySelector;
}
export interface ObjectFieldSelector {
  apiVersion?: string;
  fieldPath: string;
}
export interface ResourceFieldSelector {
  containerName?: string;
  resource: string;
  divisor?: Quantity;
}
export interface KeySelector {
  name?: string;
  key: string;
  optional?: boolean;
}
export interface ResourceRequirements {
  limits?: QuantityMap;
  requests?: QuantityMap;
  claims?: ResourceClaim[];
}
export interface QuantityMap {
  [k: string]: Quantity | undefined;
}
export interface ResourceClaim {
  name: string;
  request?: string;
}
export interface ContainerResizePolicy {
  resourceName: string;
  restartPolicy: string;
}
export interface VolumeMount {
  name: string;
  mountPath: string;
  subPath?: string;
  subPathExpr?: string;
  readOnly?: boolean;
  recursiveReadOnly?: string;
  mountPropagation?: "None" | "HostToContainer" | "Bidirectional";
}
export interface Probe {
  exec?: ExecAction;
  httpGet?: HTTPGetAction;
  tcpSocket?: TCPSocketAction;
  grpc?: GRPCAction;
  initialDelaySeconds?: number;
  timeoutSeconds?: number;
  periodSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  terminationGracePeriodSeconds?: number;
}
export interface ExecAction {
  command?: string[];
}
export interface HTTPGetAction {
  path?: string;
  port: IntOrString;
  host?: string;
  scheme?: "HTTP" | "HTTPS";
  httpHeaders?: HTTPHeader[];
}
export interface HTTPHeader {
  name: string;
  value: string;
}
export interface TCPSocketAction {
  port: IntOrString;
  host?: string;
}
export interface GRPCAction {
  port: number;
  service?: string;
}
export interface Lifecycle {
  postStart?: LifecycleHandler;
  preStop?: LifecycleHandler;
  stopSignal?: string;
}
export interface LifecycleHandler {
  exec?: ExecAction;
  httpGet?: HTTPGetAction;
  tcpSocket?: TCPSocketAction;
  sleep?: SleepAction;
}
export interface SleepAction {
  seconds: number;
}
export interface SecurityContext {
  capabilities?: Capabilities;
  privileged?: boolean;
  seLinuxOptions?: SELinuxOptions;
  windowsOptions?: WindowsSecurityContextOptions;
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  procMount?: "Default" | "Unmasked";
  seccompProfile?: SeccompProfile;
  appArmorProfile?: AppArmorProfile;
}
export interface Capabilities {
  add?: string[];
  drop?: string[];
}
export interface SELinuxOptions {
  user?: string;
  role?: string;
  type?: string;
  level?: string;
}
export interface WindowsSecurityContextOptions {
  gmsaCredentialSpecName?: string;
  gmsaCredentialSpec?: string;
  runAsUserName?: string;
  hostProcess?: boolean;
}
export interface SeccompProfile {
  type: "RuntimeDefault" | "Unconfined" | "Localhost";
  localhostProfile?: string;
}
export interface AppArmorProfile {
  type: "RuntimeDefault" | "Unconfined" | "Localhost";
  localhostProfile?: string;
}
/**
 * A pod volume. Berth's agent runs emptyDir, hostPath, configMap, secret, nfs and persistentVolumeClaim volumes; downwardAPI and projected ones validate but a node refuses to run them.
 */
export interface Volume {
  name: string;
  emptyDir?: EmptyDirVolumeSource;
  hostPath?: HostPathVolumeSource;
  configMap?: ConfigMapVolumeSource;
  secret?: SecretVolumeSource;
  nfs?: NFSVolumeSource;
  persistentVolumeClaim?: PersistentVolumeClaimVolumeSource;
  downwardAPI?: DownwardAPIVolumeSource;
  projected?: ProjectedVolumeSource;
}
export interface EmptyDirVolumeSource {
  medium?: "" | "Memory";
  sizeLimit?: Quantity;
}
export interface HostPathVolumeSource {
  path: string;
  type?: "" | "DirectoryOrCreate" | "Directory" | "FileOrCreate" | "File" | "Socket" | "CharDevice" | "BlockDevice";
}
export interface ConfigMapVolumeSource {
  name?: string;
  items?: KeyToPath[];
  defaultMode?: number;
  optional?: boolean;
}
export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}
export interface SecretVolumeSource {
  secretName?: string;
  items?: KeyToPath[];
  defaultMode?: number;
  optional?: boolean;
}
/**
 * An NFS share, mounted by the node's agent (mount -t nfs on the process runtime, Docker's local volume driver on docker).
 */
export interface NFSVolumeSource {
  server: string;
  path: string;
  readOnly?: boolean;
}
export interface PersistentVolumeClaimVolumeSource {
  claimName: string;
  readOnly?: boolean;
}
export interface DownwardAPIVolumeSource {
  items?: DownwardAPIVolumeFile[];
  defaultMode?: number;
}
export interface DownwardAPIVolumeFile {
  path: string;
  fieldRef?: ObjectFieldSelector;
  resourceFieldRef?: ResourceFieldSelector;
  mode?: number;
}
export interface ProjectedVolumeSource {
  defaultMode?: number;
  sources?: VolumeProjection[];
}
export interface VolumeProjection {
  configMap?: ConfigMapProjection;
  secret?: SecretProjection;
  downwardAPI?: DownwardAPIProjection;
}
export interface ConfigMapProjection {
  name?: string;
  items?: KeyToPath[];
  optional?: boolean;
}
export interface SecretProjection {
  name?: string;
  items?: KeyToPath[];
  optional?: boolean;
}
export interface DownwardAPIProjection {
  items?: DownwardAPIVolumeFile[];
}
export interface PodDNSConfig {
  nameservers?: string[];
  searches?: string[];
  options?: PodDNSConfigOption[];
}
export interface PodDNSConfigOption {
  name?: string;
  value?: string;
}
export interface PodSecurityContext {
  seLinuxOptions?: SELinuxOptions;
  windowsOptions?: WindowsSecurityContextOptions;
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  supplementalGroups?: number[];
  supplementalGroupsPolicy?: "Merge" | "Strict";
  fsGroup?: number;
  fsGroupChangePolicy?: "OnRootMismatch" | "Always";
  sysctls?: Sysctl[];
  seccompProfile?: SeccompProfile;
  appArmorProfile?: AppArmorProfile;
  seLinuxChangePolicy?: string;
}
export interface Sysctl {
  name: string;
  value: string;
}
export interface LocalObjectReference {
  name?: string;
}
export interface Affinity {
  nodeAffinity?: NodeAffinity;
  podAffinity?: PodAffinity;
  podAntiAffinity?: PodAffinity;
}
export interface NodeAffinity {
  requiredDuringSchedulingIgnoredDuringExecution?: NodeSelector;
  preferredDuringSchedulingIgnoredDuringExecution?: PreferredSchedulingTerm[];
}
export interface NodeSelector {
  nodeSelectorTerms: NodeSelectorTerm[];
}
export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}
export interface NodeSelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt";
  values?: string[];
}
export interface PreferredSchedulingTerm {
  weight: number;
  preference: NodeSelectorTerm;
}
export interface PodAffinity {
  requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[];
  preferredDuringSchedulingIgnoredDuringExecution?: WeightedPodAffinityTerm[];
}
export interface PodAffinityTerm {
  labelSelector?: LabelSelector;
  namespaces?: string[];
  topologyKey: string;
  namespaceSelector?: LabelSelector;
  matchLabelKeys?: string[];
  mismatchLabelKeys?: string[];
}
export interface LabelSelector {
  matchLabels?: StringMap;
  matchExpressions?: LabelSelectorRequirement[];
}
export interface LabelSelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[];
}
export interface WeightedPodAffinityTerm {
  weight: number;
  podAffinityTerm: PodAffinityTerm;
}
export interface Toleration {
  key?: string;
  operator?: "Exists" | "Equal";
  value?: string;
  effect?: "" | "NoSchedule" | "PreferNoSchedule" | "NoExecute";
  tolerationSeconds?: number;
}
export interface HostAlias {
  ip: string;
  hostnames?: string[];
}
export interface PodReadinessGate {
  conditionType: string;
}
export interface TopologySpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  whenUnsatisfiable: "DoNotSchedule" | "ScheduleAnyway";
  labelSelector?: LabelSelector;
  minDomains?: number;
  nodeAffinityPolicy?: "Honor" | "Ignore";
  nodeTaintsPolicy?: "Honor" | "Ignore";
  matchLabelKeys?: string[];
}
export interface PodOS {
  name: "linux" | "windows";
}
export interface PodSchedulingGate {
  name: string;
}
export interface PodStatus {
  phase?: "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";
  conditions?: Condition[];
  message?: string;
  reason?: string;
  nominatedNodeName?: string;
  hostIP?: string;
  hostIPs?: IP[];
  podIP?: string;
  podIPs?: IP[];
  startTime?: Time;
  initContainerStatuses?: ContainerStatus[];
  containerStatuses?: ContainerStatus[];
  qosClass?: "Guaranteed" | "Burstable" | "BestEffort";
  /**
   * Berth: the node port each container port is published on (the networking model's endpoint address).
   */
  hostPorts?: HostPortMapping[];
}
export interface IP {
  ip?: string;
}
export interface ContainerStatus {
  name: string;
  state?: ContainerState;
  lastState?: ContainerState;
  ready?: boolean;
  started?: boolean;
  restartCount?: number;
  image?: string;
  imageID?: string;
  containerID?: string;
}
export interface ContainerState {
  waiting?: ContainerStateWaiting;
  running?: ContainerStateRunning;
  terminated?: ContainerStateTerminated;
}
export interface ContainerStateWaiting {
  reason?: string;
  message?: string;
}
export interface ContainerStateRunning {
  startedAt?: Time;
}
export interface ContainerStateTerminated {
  exitCode: number;
  signal?: number;
  reason?: string;
  message?: string;
  startedAt?: Time;
  finishedAt?: Time;
  containerID?: string;
}
export interface HostPortMapping {
  containerName?: string;
  name?: string;
  containerPort: number;
  hostPort: number;
  protocol?: string;
}
export interface Service {
  apiVersion: "v1";
  kind: "Service";
  metadata: ObjectMeta;
  spec?: ServiceSpec;
  status?: ServiceStatus;
}
export interface ServiceSpec {
  ports?: ServicePort[];
  selector?: StringMap;
  clusterIP?: string;
  clusterIPs?: string[];
  type?: "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName";
  externalIPs?: string[];
  sessionAffinity?: "None" | "ClientIP";
  loadBalancerIP?: string;
  loadBalancerSourceRanges?: string[];
  loadBalancerClass?: string;
  externalName?: string;
  externalTrafficPolicy?: "Cluster" | "Local";
  internalTrafficPolicy?: "Cluster" | "Local";
  healthCheckNodePort?: number;
  publishNotReadyAddresses?: boolean;
  sessionAffinityConfig?: SessionAffinityConfig;
  ipFamilies?: ("IPv4" | "IPv6")[];
  ipFamilyPolicy?: "SingleStack" | "PreferDualStack" | "RequireDualStack";
  allocateLoadBalancerNodePorts?: boolean;
  trafficDistribution?: string;
}
export interface ServicePort {
  name?: string;
  protocol?: "TCP" | "UDP" | "SCTP";
  appProtocol?: string;
  port: number;
  targetPort?: IntOrString;
  nodePort?: number;
}
export interface SessionAffinityConfig {
  clientIP?: ClientIPConfig;
}
export interface ClientIPConfig {
  timeoutSeconds?: number;
}
export interface ServiceStatus {
  loadBalancer?: LoadBalancerStatus;
  conditions?: Condition[];
}
export interface LoadBalancerStatus {
  ingress?: LoadBalancerIngress[];
}
export interface LoadBalancerIngress {
  ip?: string;
  hostname?: string;
  ipMode?: string;
  ports?: PortStatus[];
}
export interface PortStatus {
  port: number;
  protocol: string;
  error?: string;
}
export interface Endpoints {
  apiVersion: "v1";
  kind: "Endpoints";
  metadata: ObjectMeta;
  subsets?: EndpointSubset[];
}
export interface EndpointSubset {
  addresses?: EndpointAddress[];
  notReadyAddresses?: EndpointAddress[];
  ports?: EndpointPort[];
}
export interface EndpointAddress {
  ip: string;
  hostname?: string;
  nodeName?: string;
  targetRef?: ObjectReference;
}
export interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  resourceVersion?: string;
  fieldPath?: string;
}
export interface EndpointPort {
  name?: string;
  port: number;
  protocol?: "TCP" | "UDP" | "SCTP";
  appProtocol?: string;
}
export interface PersistentVolumeClaim {
  apiVersion: "v1";
  kind: "PersistentVolumeClaim";
  metadata: ObjectMeta;
  spec: PersistentVolumeClaimSpec;
  status?: PersistentVolumeClaimStatus;
}
export interface PersistentVolumeClaimSpec {
  accessModes?: ("ReadWriteOnce" | "ReadOnlyMany" | "ReadWriteMany" | "ReadWriteOncePod")[];
  selector?: LabelSelector;
  resources?: VolumeResourceRequirements;
  volumeName?: string;
  storageClassName?: string;
  volumeMode?: "Filesystem" | "Block";
  dataSource?: TypedLocalObjectReference;
  dataSourceRef?: TypedLocalObjectReference;
  volumeAttributesClassName?: string;
}
export interface VolumeResourceRequirements {
  limits?: QuantityMap;
  requests?: QuantityMap;
}
export interface TypedLocalObjectReference {
  apiGroup?: string;
  kind: string;
  name: string;
  namespace?: string;
}
export interface PersistentVolumeClaimStatus {
  phase?: "Pending" | "Bound" | "Lost";
  accessModes?: string[];
  capacity?: QuantityMap;
  conditions?: Condition[];
  /**
   * Berth: the directory on the node that backs the claim.
   */
  path?: string;
  /**
   * Berth: the node holding the claim's data.
   */
  nodeName?: string;
}
/**
 * Storage in the cluster, as a Node is compute: a directory on a node (hostPath, local) or an NFS export, bound to at most one claim.
 */
export interface PersistentVolume {
  apiVersion: "v1";
  kind: "PersistentVolume";
  metadata: ObjectMeta;
  spec: PersistentVolumeSpec;
  status?: PersistentVolumeStatus;
}
/**
 * Exactly one source (hostPath, local or nfs); local needs nodeAffinity: checked beside the schema (src/manifest/semantic.ts), as Kubernetes' validation does.
 */
export interface PersistentVolumeSpec {
  capacity: QuantityMap;
  /**
   * @minItems 1
   */
  accessModes: [
    "ReadWriteOnce" | "ReadOnlyMany" | "ReadWriteMany" | "ReadWriteOncePod",
    ...("ReadWriteOnce" | "ReadOnlyMany" | "ReadWriteMany" | "ReadWriteOncePod")[]
  ];
  persistentVolumeReclaimPolicy?: "Retain" | "Delete" | "Recycle";
  storageClassName?: string;
  volumeMode?: "Filesystem" | "Block";
  mountOptions?: string[];
  claimRef?: ObjectReference;
  nodeAffinity?: VolumeNodeAffinity;
  hostPath?: HostPathVolumeSource1;
  local?: LocalVolumeSource;
  nfs?: NFSVolumeSource1;
}
export interface VolumeNodeAffinity {
  required?: NodeSelector;
}
export interface HostPathVolumeSource1 {
  path: string;
  type?: "" | "DirectoryOrCreate" | "Directory" | "FileOrCreate" | "File" | "Socket" | "CharDevice" | "BlockDevice";
}
export interface LocalVolumeSource {
  path: string;
  fsType?: string;
}
export interface NFSVolumeSource1 {
  server: string;
  path: string;
  readOnly?: boolean;
}
export interface PersistentVolumeStatus {
  phase?: "Pending" | "Available" | "Bound" | "Released" | "Failed";
  reason?: string;
  message?: string;
  lastPhaseTransitionTime?: Time;
}
/**
 * How claims of a class get volumes: the provisioner that makes them and how (parameters, reclaim policy, when to bind).
 */
export interface StorageClass {
  apiVersion: "storage.k8s.io/v1";
  kind: "StorageClass";
  metadata: ObjectMeta;
  provisioner: string;
  parameters?: StringMap;
  reclaimPolicy?: "Retain" | "Delete";
  volumeBindingMode?: "Immediate" | "WaitForFirstConsumer";
  allowVolumeExpansion?: boolean;
  mountOptions?: string[];
  allowedTopologies?: NodeSelectorTerm[];
}
/**
 * Hard limits on what a namespace may use: compute requests and limits, pods, Services, claims, and counts of objects (count/<resource>.<group>).
 */
export interface ResourceQuota {
  apiVersion: "v1";
  kind: "ResourceQuota";
  metadata: ObjectMeta;
  spec?: ResourceQuotaSpec;
  status?: ResourceQuotaStatus;
}
export interface ResourceQuotaSpec {
  hard?: QuantityMap;
  scopes?: string[];
  scopeSelector?: {};
}
export interface ResourceQuotaStatus {
  hard?: QuantityMap;
  used?: QuantityMap;
}
/**
 * Default requests and limits, and minimums and maximums, per container, pod or claim in a namespace.
 */
export interface LimitRange {
  apiVersion: "v1";
  kind: "LimitRange";
  metadata: ObjectMeta;
  spec?: LimitRangeSpec;
}
export interface LimitRangeSpec {
  limits: LimitRangeItem[];
}
export interface LimitRangeItem {
  type: "Container" | "Pod" | "PersistentVolumeClaim";
  default?: QuantityMap;
  defaultRequest?: QuantityMap;
  min?: QuantityMap;
  max?: QuantityMap;
  maxLimitRequestRatio?: QuantityMap;
}
/**
 * An identity for pods (stored; Berth issues no tokens for it yet).
 */
export interface ServiceAccount {
  apiVersion: "v1";
  kind: "ServiceAccount";
  metadata: ObjectMeta;
  secrets?: ObjectReference1[];
  imagePullSecrets?: LocalObjectReference1[];
  automountServiceAccountToken?: boolean;
}
export interface ObjectReference1 {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  resourceVersion?: string;
  fieldPath?: string;
}
export interface LocalObjectReference1 {
  name?: string;
}
/**
 * The original replicated-pods controller: a ReplicaSet with an equality selector (a map of labels, defaulted to the template's labels).
 */
export interface ReplicationController {
  apiVersion: "v1";
  kind: "ReplicationController";
  metadata: ObjectMeta;
  spec?: ReplicationControllerSpec;
  status?: ReplicationControllerStatus;
}
export interface ReplicationControllerSpec {
  replicas?: number;
  minReadySeconds?: number;
  selector?: StringMap;
  template?: PodTemplateSpec;
}
export interface PodTemplateSpec {
  metadata?: ObjectMeta;
  spec?: PodSpec;
}
export interface ReplicationControllerStatus {
  replicas?: number;
  fullyLabeledReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  terminatingReplicas?: number;
  observedGeneration?: number;
  conditions?: Condition[];
}
export interface Node {
  apiVersion: "v1";
  kind: "Node";
  metadata: ObjectMeta;
  spec?: NodeSpec;
  status?: NodeStatus;
}
export interface NodeSpec {
  podCIDR?: string;
  podCIDRs?: string[];
  providerID?: string;
  unschedulable?: boolean;
  taints?: Taint[];
}
export interface Taint {
  key: string;
  value?: string;
  effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
  timeAdded?: Time;
}
export interface NodeStatus {
  capacity?: QuantityMap;
  allocatable?: QuantityMap;
  phase?: string;
  conditions?: Condition[];
  addresses?: NodeAddress[];
  daemonEndpoints?: NodeDaemonEndpoints;
  nodeInfo?: NodeSystemInfo;
  images?: ContainerImage[];
}
export interface NodeAddress {
  type: "Hostname" | "InternalIP" | "ExternalIP" | "InternalDNS" | "ExternalDNS";
  address: string;
}
export interface NodeDaemonEndpoints {
  kubeletEndpoint?: DaemonEndpoint;
}
export interface DaemonEndpoint {
  Port: number;
}
export interface NodeSystemInfo {
  machineID?: string;
  systemUUID?: string;
  bootID?: string;
  kernelVersion?: string;
  osImage?: string;
  containerRuntimeVersion?: string;
  kubeletVersion?: string;
  kubeProxyVersion?: string;
  operatingSystem?: string;
  architecture?: string;
}
export interface ContainerImage {
  names?: string[];
  sizeBytes?: number;
}
export interface Event {
  apiVersion: "v1";
  kind: "Event";
  metadata: ObjectMeta;
  involvedObject: ObjectReference;
  reason?: string;
  message?: string;
  source?: EventSource;
  firstTimestamp?: Time | null;
  lastTimestamp?: Time | null;
  count?: number;
  type?: "Normal" | "Warning";
  eventTime?: Time | null;
  action?: string;
  related?: ObjectReference;
  reportingComponent?: string;
  reportingInstance?: string;
}
export interface EventSource {
  component?: string;
  host?: string;
}
export interface Deployment {
  apiVersion: "apps/v1";
  kind: "Deployment";
  metadata: ObjectMeta;
  spec: DeploymentSpec;
  status?: DeploymentStatus;
}
export interface DeploymentSpec {
  replicas?: number;
  selector: LabelSelector;
  template: PodTemplateSpec;
  strategy?: DeploymentStrategy;
  minReadySeconds?: number;
  revisionHistoryLimit?: number;
  paused?: boolean;
  progressDeadlineSeconds?: number;
}
export interface DeploymentStrategy {
  type?: "RollingUpdate" | "Recreate";
  rollingUpdate?: RollingUpdateDeployment;
}
export interface RollingUpdateDeployment {
  maxUnavailable?: IntOrString;
  maxSurge?: IntOrString;
}
export interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  terminatingReplicas?: number;
  conditions?: Condition[];
  collisionCount?: number;
}
export interface ReplicaSet {
  apiVersion: "apps/v1";
  kind: "ReplicaSet";
  metadata: ObjectMeta;
  spec: ReplicaSetSpec;
  status?: ReplicaSetStatus;
}
export interface ReplicaSetSpec {
  replicas?: number;
  minReadySeconds?: number;
  selector: LabelSelector;
  template?: PodTemplateSpec;
}
export interface ReplicaSetStatus {
  replicas?: number;
  fullyLabeledReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  terminatingReplicas?: number;
  observedGeneration?: number;
  conditions?: Condition[];
}
export interface DaemonSet {
  apiVersion: "apps/v1";
  kind: "DaemonSet";
  metadata: ObjectMeta;
  spec: DaemonSetSpec;
  status?: DaemonSetStatus;
}
export interface DaemonSetSpec {
  selector: LabelSelector;
  template: PodTemplateSpec;
  updateStrategy?: DaemonSetUpdateStrategy;
  minReadySeconds?: number;
  revisionHistoryLimit?: number;
}
export interface DaemonSetUpdateStrategy {
  type?: "RollingUpdate" | "OnDelete";
  rollingUpdate?: RollingUpdateDaemonSet;
}
export interface RollingUpdateDaemonSet {
  maxUnavailable?: IntOrString;
  maxSurge?: IntOrString;
}
export interface DaemonSetStatus {
  currentNumberScheduled?: number;
  numberMisscheduled?: number;
  desiredNumberScheduled?: number;
  numberReady?: number;
  observedGeneration?: number;
  updatedNumberScheduled?: number;
  numberAvailable?: number;
  numberUnavailable?: number;
  collisionCount?: number;
  conditions?: Condition[];
}
export interface StatefulSet {
  apiVersion: "apps/v1";
  kind: "StatefulSet";
  metadata: ObjectMeta;
  spec: StatefulSetSpec;
  status?: StatefulSetStatus;
}
export interface StatefulSetSpec {
  replicas?: number;
  selector: LabelSelector;
  template: PodTemplateSpec;
  volumeClaimTemplates?: PersistentVolumeClaimTemplate[];
  serviceName?: string;
  podManagementPolicy?: "OrderedReady" | "Parallel";
  updateStrategy?: StatefulSetUpdateStrategy;
  revisionHistoryLimit?: number;
  minReadySeconds?: number;
  persistentVolumeClaimRetentionPolicy?: StatefulSetPersistentVolumeClaimRetentionPolicy;
  ordinals?: StatefulSetOrdinals;
}
/**
 * A claim as written inside a StatefulSet's volumeClaimTemplates.
 */
export interface PersistentVolumeClaimTemplate {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: PersistentVolumeClaimSpec;
  status?: PersistentVolumeClaimStatus;
}
export interface StatefulSetUpdateStrategy {
  type?: "RollingUpdate" | "OnDelete";
  rollingUpdate?: RollingUpdateStatefulSetStrategy;
}
export interface RollingUpdateStatefulSetStrategy {
  partition?: number;
  maxUnavailable?: IntOrString;
}
export interface StatefulSetPersistentVolumeClaimRetentionPolicy {
  whenDeleted?: "Retain" | "Delete";
  whenScaled?: "Retain" | "Delete";
}
export interface StatefulSetOrdinals {
  start?: number;
}
export interface StatefulSetStatus {
  observedGeneration?: number;
  replicas?: number;
  readyReplicas?: number;
  currentReplicas?: number;
  updatedReplicas?: number;
  availableReplicas?: number;
  currentRevision?: string;
  updateRevision?: string;
  collisionCount?: number;
  conditions?: Condition[];
}
/**
 * One pod template a StatefulSet or DaemonSet has had (what `kubectl rollout history|undo sts/x|ds/x` read); written by their controllers.
 */
export interface ControllerRevision {
  apiVersion: "apps/v1";
  kind: "ControllerRevision";
  metadata: ObjectMeta;
  /**
   * A strategic merge patch that restores the template: {spec: {template: {…, $patch: replace}}}.
   */
  data?: {};
  revision: number;
}
export interface Job {
  apiVersion: "batch/v1";
  kind: "Job";
  metadata: ObjectMeta;
  spec: JobSpec;
  status?: JobStatus;
}
export interface JobSpec {
  parallelism?: number;
  completions?: number;
  activeDeadlineSeconds?: number;
  podFailurePolicy?: PodFailurePolicy;
  successPolicy?: SuccessPolicy;
  backoffLimit?: number;
  backoffLimitPerIndex?: number;
  maxFailedIndexes?: number;
  selector?: LabelSelector;
  manualSelector?: boolean;
  template: PodTemplateSpec;
  ttlSecondsAfterFinished?: number;
  completionMode?: "NonIndexed" | "Indexed";
  suspend?: boolean;
  podReplacementPolicy?: "TerminatingOrFailed" | "Failed";
  managedBy?: string;
}
export interface PodFailurePolicy {
  rules: PodFailurePolicyRule[];
}
export interface PodFailurePolicyRule {
  action: "FailJob" | "FailIndex" | "Ignore" | "Count";
  onExitCodes?: PodFailurePolicyOnExitCodesRequirement;
  onPodConditions?: PodFailurePolicyOnPodConditionsPattern[];
}
export interface PodFailurePolicyOnExitCodesRequirement {
  containerName?: string;
  operator: "In" | "NotIn";
  values: number[];
}
export interface PodFailurePolicyOnPodConditionsPattern {
  type: string;
  status?: string;
}
export interface SuccessPolicy {
  rules: SuccessPolicyRule[];
}
export interface SuccessPolicyRule {
  succeededIndexes?: string;
  succeededCount?: number;
}
export interface JobStatus {
  conditions?: Condition[];
  startTime?: Time;
  completionTime?: Time;
  active?: number;
  succeeded?: number;
  failed?: number;
  terminating?: number;
  ready?: number;
  completedIndexes?: string;
  failedIndexes?: string;
  uncountedTerminatedPods?: UncountedTerminatedPods;
}
export interface UncountedTerminatedPods {
  succeeded?: string[];
  failed?: string[];
}
export interface CronJob {
  apiVersion: "batch/v1";
  kind: "CronJob";
  metadata: ObjectMeta;
  spec: CronJobSpec;
  status?: CronJobStatus;
}
export interface CronJobSpec {
  schedule: string;
  timeZone?: string;
  startingDeadlineSeconds?: number;
  concurrencyPolicy?: "Allow" | "Forbid" | "Replace";
  suspend?: boolean;
  jobTemplate: JobTemplateSpec;
  successfulJobsHistoryLimit?: number;
  failedJobsHistoryLimit?: number;
}
export interface JobTemplateSpec {
  metadata?: ObjectMeta;
  spec?: JobSpec;
}
export interface CronJobStatus {
  active?: ObjectReference[];
  lastScheduleTime?: Time;
  lastSuccessfulTime?: Time;
}
export interface Ingress {
  apiVersion: "networking.k8s.io/v1";
  kind: "Ingress";
  metadata: ObjectMeta;
  spec?: IngressSpec;
  status?: IngressStatus;
}
export interface IngressSpec {
  ingressClassName?: string;
  defaultBackend?: IngressBackend;
  tls?: IngressTLS[];
  rules?: IngressRule[];
}
export interface IngressBackend {
  service?: IngressServiceBackend;
  resource?: TypedLocalObjectReference;
}
export interface IngressServiceBackend {
  name: string;
  port?: ServiceBackendPort;
}
export interface ServiceBackendPort {
  name?: string;
  number?: number;
}
export interface IngressTLS {
  hosts?: string[];
  secretName?: string;
}
export interface IngressRule {
  host?: string;
  http?: HTTPIngressRuleValue;
}
export interface HTTPIngressRuleValue {
  /**
   * @minItems 1
   */
  paths: [HTTPIngressPath, ...HTTPIngressPath[]];
}
export interface HTTPIngressPath {
  path?: string;
  pathType: "Exact" | "Prefix" | "ImplementationSpecific";
  backend: IngressBackend;
}
export interface IngressStatus {
  loadBalancer?: LoadBalancerStatus;
}
/**
 * Stored and validated, not enforced: Berth has no network policy data plane yet (a warning says so).
 */
export interface NetworkPolicy {
  apiVersion: "networking.k8s.io/v1";
  kind: "NetworkPolicy";
  metadata: ObjectMeta;
  spec?: NetworkPolicySpec;
}
export interface NetworkPolicySpec {
  podSelector?: LabelSelector;
  policyTypes?: ("Ingress" | "Egress")[];
  ingress?: NetworkPolicyIngressRule[];
  egress?: NetworkPolicyEgressRule[];
}
export interface NetworkPolicyIngressRule {
  from?: NetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}
export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IPBlock;
}
export interface IPBlock {
  cidr: string;
  except?: string[];
}
export interface NetworkPolicyPort {
  protocol?: "TCP" | "UDP" | "SCTP";
  port?: number | string;
  endPort?: number;
}
export interface NetworkPolicyEgressRule {
  to?: NetworkPolicyPeer1[];
  ports?: NetworkPolicyPort1[];
}
export interface NetworkPolicyPeer1 {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IPBlock1;
}
export interface IPBlock1 {
  cidr: string;
  except?: string[];
}
export interface NetworkPolicyPort1 {
  protocol?: "TCP" | "UDP" | "SCTP";
  port?: number | string;
  endPort?: number;
}
/**
 * A Service's endpoints sharing one set of ports (the endpoints controller keeps one per port set, labelled kubernetes.io/service-name).
 */
export interface EndpointSlice {
  apiVersion: "discovery.k8s.io/v1";
  kind: "EndpointSlice";
  metadata: ObjectMeta;
  addressType: "IPv4" | "IPv6" | "FQDN";
  endpoints: Endpoint[];
  ports?: EndpointSlicePort[];
}
export interface Endpoint {
  /**
   * @minItems 1
   * @maxItems 100
   */
  addresses: [string, ...string[]];
  conditions?: EndpointConditions;
  hostname?: string;
  targetRef?: ObjectReference;
  nodeName?: string;
  zone?: string;
  deprecatedTopology?: {
    [k: string]: string | undefined;
  };
  hints?: {};
}
export interface EndpointConditions {
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}
export interface EndpointSlicePort {
  name?: string;
  port?: number;
  protocol?: "TCP" | "UDP" | "SCTP";
  appProtocol?: string;
}
/**
 * A lease (leader election of apps that ship one). Node leases in kube-node-lease are read-only views of the agents' heartbeats.
 */
export interface Lease {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: ObjectMeta;
  spec?: LeaseSpec;
}
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  strategy?: string;
  preferredHolder?: string;
}
/**
 * Scales a Deployment, ReplicaSet or StatefulSet (through its /scale) between minReplicas and maxReplicas so that its metrics meet their targets, with Kubernetes' algorithm and behavior.
 */
export interface HorizontalPodAutoscaler {
  apiVersion: "autoscaling/v2";
  kind: "HorizontalPodAutoscaler";
  metadata: ObjectMeta;
  spec: HorizontalPodAutoscalerSpec;
  status?: HorizontalPodAutoscalerStatus;
}
export interface HorizontalPodAutoscalerSpec {
  scaleTargetRef: CrossVersionObjectReference;
  minReplicas?: number;
  maxReplicas: number;
  metrics?: MetricSpec[];
  behavior?: HorizontalPodAutoscalerBehavior;
}
export interface CrossVersionObjectReference {
  apiVersion?: string;
  kind: string;
  name: string;
}
export interface MetricSpec {
  type: "Resource" | "Pods" | "Object" | "ContainerResource" | "External";
  resource?: ResourceMetricSource;
  containerResource?: ContainerResourceMetricSource;
  pods?: PodsMetricSource;
  object?: ObjectMetricSource;
  external?: ExternalMetricSource;
}
export interface ResourceMetricSource {
  name: string;
  target: MetricTarget;
}
/**
 * Value (the metric as it is), AverageValue (divided by the pods) or Utilization (a Resource's average percent of the pods' requests).
 */
export interface MetricTarget {
  type: "Utilization" | "Value" | "AverageValue";
  value?: Quantity;
  averageValue?: Quantity;
  averageUtilization?: number;
}
export interface ContainerResourceMetricSource {
  name: string;
  container: string;
  target: MetricTarget1;
}
/**
 * Value (the metric as it is), AverageValue (divided by the pods) or Utilization (a Resource's average percent of the pods' requests).
 */
export interface MetricTarget1 {
  type: "Utilization" | "Value" | "AverageValue";
  value?: Quantity;
  averageValue?: Quantity;
  averageUtilization?: number;
}
export interface PodsMetricSource {
  metric: MetricIdentifier;
  target: MetricTarget2;
}
export interface MetricIdentifier {
  name: string;
  selector?: LabelSelector;
}
/**
 * Value (the metric as it is), AverageValue (divided by the pods) or Utilization (a Resource's average percent of the pods' requests).
 */
export interface MetricTarget2 {
  type: "Utilization" | "Value" | "AverageValue";
  value?: Quantity;
  averageValue?: Quantity;
  averageUtilization?: number;
}
export interface ObjectMetricSource {
  describedObject: CrossVersionObjectReference1;
  metric: MetricIdentifier1;
  target: MetricTarget3;
}
export interface CrossVersionObjectReference1 {
  apiVersion?: string;
  kind: string;
  name: string;
}
export interface MetricIdentifier1 {
  name: string;
  selector?: LabelSelector;
}
/**
 * Value (the metric as it is), AverageValue (divided by the pods) or Utilization (a Resource's average percent of the pods' requests).
 */
export interface MetricTarget3 {
  type: "Utilization" | "Value" | "AverageValue";
  value?: Quantity;
  averageValue?: Quantity;
  averageUtilization?: number;
}
export interface ExternalMetricSource {
  metric: MetricIdentifier2;
  target: MetricTarget4;
}
export interface MetricIdentifier2 {
  name: string;
  selector?: LabelSelector;
}
/**
 * Value (the metric as it is), AverageValue (divided by the pods) or Utilization (a Resource's average percent of the pods' requests).
 */
export interface MetricTarget4 {
  type: "Utilization" | "Value" | "AverageValue";
  value?: Quantity;
  averageValue?: Quantity;
  averageUtilization?: number;
}
export interface HorizontalPodAutoscalerBehavior {
  scaleUp?: HPAScalingRules;
  scaleDown?: HPAScalingRules1;
}
export interface HPAScalingRules {
  stabilizationWindowSeconds?: number;
  selectPolicy?: "Max" | "Min" | "Disabled";
  tolerance?: Quantity;
  policies?: HPAScalingPolicy[];
}
export interface HPAScalingPolicy {
  type: "Pods" | "Percent";
  value: number;
  periodSeconds: number;
}
export interface HPAScalingRules1 {
  stabilizationWindowSeconds?: number;
  selectPolicy?: "Max" | "Min" | "Disabled";
  tolerance?: Quantity;
  policies?: HPAScalingPolicy1[];
}
export interface HPAScalingPolicy1 {
  type: "Pods" | "Percent";
  value: number;
  periodSeconds: number;
}
export interface HorizontalPodAutoscalerStatus {
  observedGeneration?: number;
  lastScaleTime?: Time;
  currentReplicas?: number;
  desiredReplicas?: number;
  currentMetrics?: MetricStatus[];
  conditions?: Condition[];
}
export interface MetricStatus {
  type: string;
  resource?: {
    name?: string;
    current?: MetricValueStatus;
  };
  containerResource?: {
    name?: string;
    container?: string;
    current?: MetricValueStatus1;
  };
  pods?: {
    metric?: MetricIdentifier3;
    current?: MetricValueStatus2;
  };
  object?: {
    describedObject?: CrossVersionObjectReference2;
    metric?: MetricIdentifier4;
    current?: MetricValueStatus3;
  };
  external?: {
    metric?: MetricIdentifier5;
    current?: MetricValueStatus4;
  };
}
export interface MetricValueStatus {
  value?: Quantity;
  averageValue?: Quantity;
  averageUtilization?: number;
}
export interface MetricValueStatus1 {
  value?: Quantity;
  averageValue?: Quantity;
  averageUtilization?: number;
}
export interface MetricIdentifier3 {
  name: string;
  selector?: LabelSelector;
}
export interface MetricValueStatus2 {
  value?: Quantity;
  averageValue?: Quantity;
  averageUtilization?: number;
}
export interface CrossVersionObjectReference2 {
  apiVersion?: string;
  kind: string;
  name: string;
}
export interface MetricIdentifier4 {
  name: string;
  selector?: LabelSelector;
}
export interface MetricValueStatus3 {
  value?: Quantity;
  averageValue?: Quantity;
  averageUtilization?: number;
}
export interface MetricIdentifier5 {
  name: string;
  selector?: LabelSelector;
}
export interface MetricValueStatus4 {
  value?: Quantity;
  averageValue?: Quantity;
  averageUtilization?: number;
}
/**
 * How many of the pods a selector matches may be down at once through voluntary disruptions (evictions: berth drain, kubectl drain). At most one of minAvailable and maxUnavailable.
 */
export interface PodDisruptionBudget {
  apiVersion: "policy/v1";
  kind: "PodDisruptionBudget";
  metadata: ObjectMeta;
  spec?: PodDisruptionBudgetSpec;
  status?: PodDisruptionBudgetStatus;
}
export interface PodDisruptionBudgetSpec {
  minAvailable?: IntOrString;
  maxUnavailable?: IntOrString;
  selector?: LabelSelector;
  unhealthyPodEvictionPolicy?: "IfHealthyBudget" | "AlwaysAllow";
}
export interface PodDisruptionBudgetStatus {
  observedGeneration?: number;
  disruptedPods?: {
    [k: string]: string | undefined;
  };
  disruptionsAllowed?: number;
  currentHealthy?: number;
  desiredHealthy?: number;
  expectedPods?: number;
  conditions?: Condition[];
}
/**
 * RBAC Role (stored and validated; Berth authorizes with its own roles, not with these).
 */
export interface Role {
  apiVersion: "rbac.authorization.k8s.io/v1";
  kind: "Role";
  metadata: ObjectMeta;
  rules?: PolicyRule[];
}
export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
/**
 * RBAC RoleBinding (stored and validated; Berth authorizes with its own roles, not with these).
 */
export interface RoleBinding {
  apiVersion: "rbac.authorization.k8s.io/v1";
  kind: "RoleBinding";
  metadata: ObjectMeta;
  subjects?: Subject[];
  roleRef: RoleRef;
}
export interface Subject {
  kind: "User" | "Group" | "ServiceAccount";
  apiGroup?: string;
  name: string;
  namespace?: string;
}
export interface RoleRef {
  apiGroup: string;
  kind: "Role" | "ClusterRole";
  name: string;
}
/**
 * RBAC ClusterRole (stored and validated; Berth authorizes with its own roles, not with these).
 */
export interface ClusterRole {
  apiVersion: "rbac.authorization.k8s.io/v1";
  kind: "ClusterRole";
  metadata: ObjectMeta;
  rules?: PolicyRule1[];
  aggregationRule?: AggregationRule;
}
export interface PolicyRule1 {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
export interface AggregationRule {
  clusterRoleSelectors?: LabelSelector[];
}
/**
 * RBAC ClusterRoleBinding (stored and validated; Berth authorizes with its own roles, not with these).
 */
export interface ClusterRoleBinding {
  apiVersion: "rbac.authorization.k8s.io/v1";
  kind: "ClusterRoleBinding";
  metadata: ObjectMeta;
  subjects?: Subject1[];
  roleRef: RoleRef1;
}
export interface Subject1 {
  kind: "User" | "Group" | "ServiceAccount";
  apiGroup?: string;
  name: string;
  namespace?: string;
}
export interface RoleRef1 {
  apiGroup: string;
  kind: "Role" | "ClusterRole";
  name: string;
}
/**
 * What the commits of the Applications in a project may write (Argo CD's AppProject): which repositories, which namespaces, which kinds. Cluster-scoped; only an admin writes them.
 */
export interface AppProject {
  apiVersion: "berth.dev/v1";
  kind: "AppProject";
  metadata: ObjectMeta;
  spec?: AppProjectSpec;
}
export interface AppProjectSpec {
  description?: string;
  /**
   * Repository URL globs (* within a path segment, ** across them); default: none.
   */
  sourceRepos?: string[];
  /**
   * Namespaces (globs) the project's objects may be written to; default: none.
   */
  destinations?: ProjectDestination[];
  /**
   * Cluster-scoped kinds the project may write (group and kind, * for any); default: none.
   */
  clusterResourceWhitelist?: GroupKind[];
  /**
   * Namespaced kinds the project may not write (group and kind, * for any).
   */
  namespaceResourceBlacklist?: GroupKind[];
}
export interface ProjectDestination {
  namespace: string;
}
export interface GroupKind {
  group: string;
  kind: string;
}
/**
 * A Git source Berth keeps the cluster in sync with (Berth's own kind).
 */
export interface Application {
  apiVersion: "berth.dev/v1";
  kind: "Application";
  metadata: ObjectMeta;
  spec: ApplicationSpec;
  status?: ApplicationStatus;
}
export interface ApplicationSpec {
  source: ApplicationSource;
  /**
   * The AppProject whose rules this Application's commits are held to; default: default.
   */
  project?: string;
  destination?: ApplicationDestination;
  syncPolicy?: SyncPolicy;
  /**
   * Go-style duration, default 30s.
   */
  pollInterval?: string;
  ignoreDifferences?: ResourceIgnoreDifferences[];
  decryption?: ApplicationDecryption;
  notify?: ApplicationNotify;
}
export interface ApplicationSource {
  /**
   * http(s) URL, file:// URL or a local path.
   */
  repoURL: string;
  /**
   * Branch, tag or commit; default: the remote's default branch.
   */
  targetRevision?: string;
  /**
   * Directory in the repository; default: its root.
   */
  path?: string;
  /**
   * Secret with username/password or token for HTTPS.
   */
  credentialsSecret?: string;
}
export interface ApplicationDestination {
  /**
   * Namespace for objects that name none.
   */
  namespace?: string;
}
export interface SyncPolicy {
  automated?: AutomatedSyncPolicy;
  autoRollback?: boolean;
  /**
   * Argo CD-style options, as Name=true|false: AdoptExisting=true takes over objects that exist and no Application manages.
   */
  syncOptions?: string[];
}
export interface AutomatedSyncPolicy {
  prune?: boolean;
  selfHeal?: boolean;
  /**
   * Allow an automated sync to prune every object of the Application (refused by default, as Argo CD's).
   */
  allowEmpty?: boolean;
}
export interface ResourceIgnoreDifferences {
  group?: string;
  kind: string;
  name?: string;
  namespace?: string;
  jsonPointers: string[];
}
/**
 * Decrypt SOPS-encrypted manifests before they are applied (as Flux's Kustomization spec.decryption).
 */
export interface ApplicationDecryption {
  /**
   * The only provider: sops (age keys).
   */
  provider: "sops";
  secretRef?: ApplicationDecryptionSecretRef;
}
export interface ApplicationDecryptionSecretRef {
  /**
   * A Secret of the Application's namespace: each entry whose key ends in .agekey holds age identities (age-keygen output).
   */
  name: string;
}
export interface ApplicationNotify {
  commitStatus?: CommitStatusNotify;
}
export interface CommitStatusNotify {
  /**
   * The statuses endpoint ({sha} is replaced by the commit): GitHub's https://api.github.com/repos/OWNER/REPO/statuses/{sha}, Gitea's https://HOST/api/v1/repos/OWNER/REPO/statuses/{sha}.
   */
  url: string;
  /**
   * A Secret of the Application's namespace whose `token` key is sent as `Authorization: token …`.
   */
  tokenSecret?: string;
  /**
   * The status's context (default: berth).
   */
  context?: string;
  /**
   * The commit status's link (target_url): a URL template where {sha}, {app} and {namespace} are replaced, e.g. https://berth.example.com/apps/{namespace}/{app}?revision={sha}.
   */
  targetURL?: string;
}
export interface ApplicationStatus {
  observedGeneration?: number;
  sync?: SyncStatus;
  health?: HealthStatus;
  operationState?: OperationState;
  history?: RevisionHistory[];
  reconciledAt?: Time;
  conditions?: Condition[];
  resources?: ResourceStatus[];
  /**
   * The berth.dev/sync-requested annotation value of the last manual sync handled.
   */
  lastSyncRequest?: string;
  rollback?: RollbackState;
  /**
   * Every commit the app has seen (the last 50): when it was seen, synced, healthy, and how it ended.
   */
  ledger?: LedgerEntry[];
}
export interface SyncStatus {
  status: "Synced" | "OutOfSync" | "Unknown";
  revision?: string;
}
export interface HealthStatus {
  status: "Healthy" | "Progressing" | "Degraded" | "Suspended" | "Missing" | "Unknown";
  message?: string;
}
export interface OperationState {
  phase: "Running" | "Succeeded" | "Failed" | "Error" | "Terminating";
  message?: string;
  revision?: string;
  startedAt?: Time;
  finishedAt?: Time;
  /**
   * The resource hooks this sync operation started, and where each is.
   */
  hooks?: HookRun[];
}
export interface HookRun {
  phase: string;
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  state: "Running" | "Succeeded" | "Failed";
  message?: string;
  deletePolicies: string[];
  deleted?: boolean;
}
export interface RevisionHistory {
  id: number;
  revision: string;
  deployedAt: Time;
  message?: string;
  author?: string;
  initiatedBy?: "auto" | "user" | "rollback";
  /**
   * What became of the sync: Healthy once its resources were; Failed when autoRollback undid it.
   */
  outcome?: "Progressing" | "Healthy" | "Degraded" | "Failed";
}
export interface ResourceStatus {
  group?: string;
  kind: string;
  namespace?: string;
  name: string;
  status: "Synced" | "OutOfSync" | "Unknown";
  health?: "Healthy" | "Progressing" | "Degraded" | "Suspended" | "Missing" | "Unknown";
}
/**
 * A rollback pin: the app stays at revision, auto-sync paused, until the branch moves past branchHead or sync --resume.
 */
export interface RollbackState {
  request: string;
  revision: string;
  branchHead: string;
  state: "Paused" | "Resumed";
  since: string;
  /**
   * `app rollback` (or autoRollback), or `app sync --revision`: both pin a commit the same way.
   */
  kind?: "rollback" | "revision";
}
export interface LedgerEntry {
  revision: string;
  seenAt: string;
  syncedAt?: string;
  healthyAt?: string;
  /**
   * When the commit's Ingress routes first served from its pods
   */
  servingAt?: string;
  state: "pending" | "success" | "failure" | "error";
  description?: string;
  /**
   * The state last posted to notify.commitStatus.
   */
  notified?: string;
}
