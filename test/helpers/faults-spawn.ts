// soak/run.ts still imports this path; delete the file once it imports `spawnReplica`, `Replica`,
// `runsOf` and `RunRecord` from './replicas.js'.
export { runsOf, spawnReplica as spawnFaultReplica, type Replica as FaultReplica, type RunRecord } from './replicas.js';
