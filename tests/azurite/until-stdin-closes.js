#!/usr/bin/env node
// Runs Azurite's blob, queue and table services (same arguments as `azurite`) and exits as soon as stdin closes.
// The test fixture keeps a pipe open to our stdin; when the test host dies in any way (even SIGKILL),
// the kernel closes that pipe and this process goes with it instead of lingering on its ports.
"use strict";
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
require("azurite/dist/src/azurite.js");
