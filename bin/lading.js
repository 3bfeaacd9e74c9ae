#!/usr/bin/env node
// Thin launcher: the CLI lives in the compiled package (npm run build).
import { main } from '../dist/src/cli/index.js';

process.exitCode = await main(process.argv.slice(2));
