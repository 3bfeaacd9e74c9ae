export { main, buildProgram } from './main.js';
export type { Io } from './output.js';
