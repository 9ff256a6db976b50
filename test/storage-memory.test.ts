import { MemoryStorage } from '../src/storage/memory.js';
import { storageContract } from './storage-contract.js';

storageContract('MemoryStorage', async () => ({ storage: new MemoryStorage(), cleanup: async () => undefined }));
