import { createSnapshotter } from './create-snapshotter.js';
import { snapshotterSuite } from './testsuite.js';

snapshotterSuite('overlay', (root) => createSnapshotter(root, { kind: 'overlay' }));
snapshotterSuite('native', (root) => createSnapshotter(root, { kind: 'native' }));
