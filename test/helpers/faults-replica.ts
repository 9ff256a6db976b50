// soak/run.ts still imports this path; delete the file once it imports `fabricIds` from './replicas.js'.
export { fabricIds } from './replica-child.js';
