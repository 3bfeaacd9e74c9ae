import { describe } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsRegistryStorage } from './fs-storage.js';
import { registryStorageSuite } from './testsuite.js';

describe('FsRegistryStorage', () => {
  registryStorageSuite(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lading-regstore-'));
    const storage = new FsRegistryStorage(dir);
    await storage.init();
    return {
      storage,
      reopen: async () => {
        const s = new FsRegistryStorage(dir);
        await s.init();
        return s;
      },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  });
});
