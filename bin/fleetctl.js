#!/usr/bin/env node
// dist/fleetctl.js: dist/cli/main.js and what it imports in one file (scripts/build.mjs).
import '../dist/fleetctl.js';
