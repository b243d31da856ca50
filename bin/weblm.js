#!/usr/bin/env node
import '../dist/src/node/cli.js';
