import { afterAll } from 'vitest';
import { removeTestDirs } from './temp.js';

// Registered before the file's own hooks, so it runs after them: its processes have stopped.
afterAll(removeTestDirs);
