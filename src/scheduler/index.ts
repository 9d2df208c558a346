export { Scheduler, SCHEDULER_NAMES, type SchedulerDeps } from './scheduler.js';
export {
  filterNode,
  rawScores,
  scoreCandidates,
  unschedulableMessage,
  feasibleNodesToFind,
  type NodeInfo,
  type PodFacts,
} from './filters.js';
export { nodeInfos, simulatePlacement, type Placement, type PlacementRequest, type PlacedPod } from './simulate.js';
export { podRequests, nodeAllocatable, hostPorts, type Resources } from './resources.js';
