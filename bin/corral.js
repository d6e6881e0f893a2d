#!/usr/bin/env node
// The installed `corral` command: the built CLI, bundled (npm run build; `npm ci` runs it via prepare).
import "../dist/cli-bundle/main.js";
