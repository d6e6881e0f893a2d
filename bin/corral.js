#!/usr/bin/env node
// The installed `corral` command: the built CLI (npm run build; `npm ci` runs it via prepare).
import "../dist/cli/main.js";
