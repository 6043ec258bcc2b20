#!/usr/bin/env node
// Runs Azurite's blob service (same arguments as azurite-blob) and exits as soon as stdin closes.
// The test fixture keeps a pipe open to our stdin; when the test host dies in any way (even SIGKILL),
// the kernel closes that pipe and this process goes with it instead of lingering on its port.
"use strict";
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
require("azurite/dist/src/blob/main.js");
