#!/usr/bin/env node
// Launcher: registers tsx so the TypeScript CLI runs straight from a checkout (no build step).
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
